"""The local runner: every HTTP function of the app on one port, through functions-framework."""

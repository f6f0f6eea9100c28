"""The hosts that run triggers: Azure Functions glue and the queue-message runner both hosts share
(the local host, ``hunter serve``, lives in :mod:`shared.local`)."""

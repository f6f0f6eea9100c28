"""Which triggers Hunter has (:mod:`.registry`) and when timers fire (:mod:`.schedule`): declarations only,
read by every host."""

"""The long-running service: scheduler, listener, metrics, systemd notify, alarms, logging."""

"""The process: configuration, logs, the root Supervisor, the service object, replay."""

"""The durable outbox: deliveries written with the log, sent by workers with retries."""

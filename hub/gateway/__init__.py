"""The gateway: the path of one message through a channel (receive, log, mediate, deliver, close)."""

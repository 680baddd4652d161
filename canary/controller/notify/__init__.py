"""Sending notifications: one module per service (`slack`, `teams`, `webhook`, `email`), the
delivery record (`store`), and the worker that drains its own queue (`notifier`) so that no
reconcile ever waits on a receiver. What to send is decided by the pure `canary.engine.notifications`.
"""

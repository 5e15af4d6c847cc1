"""The pure core of a node: values, rules and state machines.

Imports nothing outside the standard library except `chinese_calendar`; does no I/O and no
logging; time is always passed in.
"""

"""How AWS spells things: ARNs, CloudTrail's timestamps, S3 key prefixes.

The lowest layer: plain functions over strings, numbers and datetimes, with no
import of any other ``recorder`` package, so that every layer above spells an ARN,
a time or a prefixed key the one way and two packages never disagree about one.
"""

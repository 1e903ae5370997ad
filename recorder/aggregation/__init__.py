"""Aggregated events for data events (PutEventConfiguration's AggregationConfigurations):
the summaries (pure) and the stage that counts ``routed`` and delivers them."""

from recorder.aggregation.summary import Aggregator, Call

__all__ = ["Aggregator", "Call"]

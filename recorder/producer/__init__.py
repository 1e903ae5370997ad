"""Producer: record API calls made through boto3/botocore and send them to Kafka."""

from recorder.producer.hooks import Installation, install
from recorder.producer.record import Identity
from recorder.producer.sink import KafkaEventSink

__all__ = ["Identity", "Installation", "KafkaEventSink", "install"]

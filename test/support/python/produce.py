"""
A producer nobody on the project wrote: the Python confluent-kafka client (librdkafka) with its
AvroSerializer and SchemaRegistryClient, for the issue-9 end-to-end tests.

Reads JSON lines from stdin, one message each, and produces them in that order:

    {"topic": "e1.telemetry", "schema": "telemetry", "key": "3", "value": {...}, "timestamp": 1772323200000}

- "schema" names an entry of --schema (NAME=path.avsc): the value is Avro-serialized with the registry,
  which registers the schema under <topic>-value on first use (auto.register.schemas), exactly as a
  real producer does. "value": null produces a tombstone.
- "timestamp" (optional) is the Kafka record timestamp in epoch ms; without it librdkafka uses the
  wall clock.
- "headers" (optional) are [name, value] pairs, value a string or null (a header without a value).
- The partition is chosen by librdkafka's partitioner: --partitioner (default: librdkafka's default,
  consistent_random), or --topic-partitioner TOPIC=NAME for one topic.

Writes one JSON line per message to stdout when all are acknowledged, in input order:
{"i": <input line index>, "topic": ..., "partition": ..., "offset": ...}. Exits non-zero on any failure.
Progress goes to stderr, one line per step ("step: ..."), so that a caller that gives up on a hung run
can say which step it hung in.
"""

import argparse
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def step(text: str) -> None:
    print(f"step: {text}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--schema", action="append", default=[], help="NAME=path.avsc")
    ap.add_argument("--partitioner", default=None, help="librdkafka partitioner (default: its default)")
    ap.add_argument("--topic-partitioner", action="append", default=[], help="TOPIC=partitioner")
    ap.add_argument("--compression", default=None, help="librdkafka compression.type (default: none)")
    args = ap.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    serializers = {}
    for entry in args.schema:
        name, path = entry.split("=", 1)
        with open(path, encoding="utf-8") as f:
            schema_str = f.read()
        serializers[name] = AvroSerializer(registry, schema_str, conf={"auto.register.schemas": True})

    def producer_conf(partitioner):
        conf = {
            "bootstrap.servers": args.bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 2000,
            "queue.buffering.max.messages": 500000,
            "enable.idempotence": True,
        }
        if partitioner is not None:
            conf["partitioner"] = partitioner
        if args.compression is not None:
            conf["compression.type"] = args.compression
        return conf

    default_producer = Producer(producer_conf(args.partitioner))
    # librdkafka's partitioner is a topic-level setting that the Python client exposes only per producer:
    # a topic with its own partitioner gets its own producer.
    per_topic = {}
    for entry in args.topic_partitioner:
        topic, name = entry.split("=", 1)
        per_topic[topic] = Producer(producer_conf(name))

    step("serializers and producers ready")
    results = []
    failures = []

    def on_delivery(index):
        def report(err, msg):
            if err is not None:
                failures.append(f"message {index}: {err}")
            else:
                results.append(
                    {"i": index, "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
                )

        return report

    producers = [default_producer, *per_topic.values()]
    produced = 0
    for index, line in enumerate(sys.stdin):
        line = line.strip()
        if not line:
            continue
        m = json.loads(line)
        topic = m["topic"]
        value = m.get("value")
        payload = None
        if value is not None:
            payload = serializers[m["schema"]](value, SerializationContext(topic, MessageField.VALUE))
        key = m.get("key")
        kwargs = {"topic": topic, "value": payload, "on_delivery": on_delivery(index)}
        if key is not None:
            kwargs["key"] = key.encode("utf-8")
        if m.get("timestamp") is not None:
            kwargs["timestamp"] = int(m["timestamp"])
        if m.get("headers") is not None:
            # [name, value] pairs in order; a null value is a header without a value (length -1 on the wire).
            kwargs["headers"] = [(k, None if v is None else v.encode("utf-8")) for k, v in m["headers"]]
        producer = per_topic.get(topic, default_producer)
        while True:
            try:
                producer.produce(**kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        produced += 1
        if produced == 1 or produced % 10000 == 0:
            step(f"produced {produced}")

    step(f"produced {produced}; flushing")
    for p in producers:
        remaining = p.flush(60)
        if remaining > 0:
            failures.append(f"{remaining} messages not delivered within 60 s")
    step(f"flushed: {len(results)} acknowledged, {len(failures)} failures")
    if failures:
        for f in failures[:20]:
            print(f, file=sys.stderr)
        return 1
    results.sort(key=lambda r: r["i"])
    out = sys.stdout
    for r in results:
        out.write(json.dumps(r))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

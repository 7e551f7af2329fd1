"""
The Python confluent-kafka client against the registry the tests run (test/integration/
registry-conformance.test.ts): its SchemaRegistryClient calls, then AvroSerializer producing telemetry to
Kafka and AvroDeserializer reading it back, as a third-party producer and consumer would.

    python registry_conformance.py --bootstrap H:P --registry URL --topic T --schema telemetry.avsc \
        --evolved evolved.avsc --incompatible incompatible.avsc < records.jsonl

Prints one JSON object: {"checks": {name: {"ok": bool, "value": ..., "error": str}}, "deliveries": [...],
"consumed": [...]}. A failing check is reported, not raised, so that the test names every difference at
once; the exit code is non-zero only when the script itself cannot run.
"""

import argparse
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--evolved", required=True, help="FULL_TRANSITIVE-compatible next version")
    ap.add_argument("--incompatible", required=True)
    args = ap.parse_args()

    def text(path: str) -> str:
        with open(path, encoding="utf-8") as f:
            return f.read()

    schema_str = text(args.schema)
    evolved = Schema(text(args.evolved), "AVRO")
    incompatible = Schema(text(args.incompatible), "AVRO")
    subject = f"{args.topic}-value"
    client = SchemaRegistryClient({"url": args.registry})
    checks: dict = {}

    def check(name: str, fn):
        try:
            checks[name] = {"ok": True, "value": fn()}
        except Exception as e:  # noqa: BLE001 - every failure is a finding to report, not a crash
            checks[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}

    # The level `pdm-stream schemas register` sets, before the first version exists (as the CLI does).
    check("set_compatibility", lambda: client.set_compatibility(subject, "FULL_TRANSITIVE"))

    records = [json.loads(line) for line in sys.stdin if line.strip()]
    serializer = AvroSerializer(client, schema_str)  # auto.register.schemas: registers under <topic>-value
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
    deliveries = []

    def on_delivery(err, msg):
        if err is not None:
            raise RuntimeError(f"delivery failed: {err}")
        deliveries.append({"partition": msg.partition(), "offset": msg.offset()})

    ctx = SerializationContext(args.topic, MessageField.VALUE)
    for r in records:
        producer.produce(
            args.topic, key=str(r["machineId"]).encode(), value=serializer(r, ctx), on_delivery=on_delivery
        )
    if producer.flush(30) != 0:
        raise RuntimeError("producer.flush left messages undelivered")

    latest = client.get_latest_version(subject)
    schema_id = latest.schema_id
    check("get_latest_version", lambda: {"version": latest.version, "id": schema_id})
    check("get_schema", lambda: json.loads(client.get_schema(schema_id).schema_str))
    check("get_versions", lambda: client.get_versions(subject))
    check("get_version", lambda: client.get_version(subject, 1).schema_id)
    check("lookup_schema", lambda: client.lookup_schema(subject, Schema(schema_str, "AVRO")).schema_id)
    check("get_subjects", lambda: subject in client.get_subjects())
    check("get_subjects_by_schema_id", lambda: client.get_subjects_by_schema_id(schema_id))
    check("get_compatibility", lambda: client.get_compatibility(subject))
    check("test_compatibility_evolved", lambda: client.test_compatibility(subject, evolved))
    check("test_compatibility_incompatible", lambda: client.test_compatibility(subject, incompatible))
    check("register_incompatible", lambda: client.register_schema(subject, incompatible))
    check("register_evolved", lambda: client.register_schema(subject, evolved))

    deserializer = AvroDeserializer(client)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"{args.topic}-py",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([args.topic])
    consumed = []
    try:
        for _ in range(120):
            if len(consumed) >= len(records):
                break
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                raise RuntimeError(f"consume failed: {msg.error()}")
            consumed.append(deserializer(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE)))
    finally:
        consumer.close()

    # fastavro reads timestamp-millis as datetime: epoch ms, as the records were given.
    def plain(v):
        return {k: (int(x.timestamp() * 1000) if hasattr(x, "timestamp") else x) for k, x in v.items()}

    print(json.dumps({"checks": checks, "deliveries": deliveries, "consumed": [plain(c) for c in consumed]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

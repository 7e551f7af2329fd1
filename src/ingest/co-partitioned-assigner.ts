/**
 * Partition assignment that keeps co-partitioned topics together: partition p of every subscribed topic
 * goes to the same member. A machine's telemetry, errors, maintenance and metadata are keyed by machineId
 * and therefore share a partition number, so the engine instance that owns telemetry partition p also sees
 * all the side inputs of the same machines (the feature engine's determinism rule needs them).
 */
// Before kafkajs: its consumer takes the batch class when it loads (kafkajs-preload.ts).
import './kafkajs-preload.js';
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED_ASSIGNER_NAME = 'PdmCoPartitionedAssigner';

/** Pure assignment: partition numbers round-robin over members sorted by id. */
export function assignCoPartitioned(
  memberIds: readonly string[],
  partitionsByTopic: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  const numbers = [...new Set([...partitionsByTopic.values()].flat())].sort((a, b) => a - b);
  numbers.forEach((p, i) => {
    const member = members[i % members.length] as string;
    const target = out.get(member) as Record<string, number[]>;
    for (const [topic, parts] of partitionsByTopic) {
      if (parts.includes(p)) (target[topic] ??= []).push(p);
    }
  });
  return out;
}

export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER_NAME,
  version: 1,
  assign({ members, topics }) {
    const partitionsByTopic = new Map(
      topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]),
    );
    const plan = assignCoPartitioned(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return Promise.resolve(
      [...plan].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment,
          userData: Buffer.alloc(0),
        }),
      })),
    );
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONED_ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

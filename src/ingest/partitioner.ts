/**
 * Which partition a machine's records land in: the producers' partitioner (kafkajs DefaultPartitioner,
 * murmur2 like the Java client) applied to the key, the machineId as a decimal string.
 */
import { Partitioners } from 'kafkajs';
import { machineKey } from '../shared/records.js';

export function createMachinePartitioner(numPartitions: number): (machineId: number) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  return (machineId) =>
    partitioner({ topic: '', partitionMetadata, message: { key: machineKey(machineId), value: null } });
}

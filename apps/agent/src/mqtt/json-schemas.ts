import { AgentStatus, InspectionResult } from '@diad/protocol';
import { z } from 'zod';

/** JSON Schemas of the MQTT payloads, generated from the zod contracts (docs/mqtt/*.schema.json). */
export function mqttJsonSchemas(): Record<string, object> {
  const mk = (schema: z.ZodType, id: string, title: string, topic: string) => ({
    $id: `https://diad-edge.dev/schemas/${id}.schema.json`,
    title,
    description: `Payload of ${topic} (JSON, UTF-8). Generated from @diad/protocol; do not edit by hand.`,
    ...z.toJSONSchema(schema),
  });
  return {
    'result.v1': mk(
      InspectionResult,
      'result.v1',
      'DiAD inspection result v1',
      'diad/<site>/<line>/<station>/result (QoS 1)',
    ),
    'status.v1': mk(
      AgentStatus,
      'status.v1',
      'DiAD agent status v1',
      'diad/<site>/<line>/<station>/status (QoS 1, retained)',
    ),
  };
}

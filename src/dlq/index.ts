export { toDeadLetterRow, scrubSecrets, type DeadLetter } from './dead-letter.js';
export {
  createDeadLetterSink,
  deadLetterDepth,
  type DeadLetterSink,
  type DeadLetterSinkOptions,
  type DeadLetterDepth,
} from './sink.js';

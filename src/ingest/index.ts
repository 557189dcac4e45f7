/** Sources of events. For now: log files and stdin, read as they stream. */
export {
  type FileScanHandlers,
  type FileScanOptions,
  type FileScanSummary,
  inputSize,
  STDIN,
  scanEventFile,
} from './file-source.js';

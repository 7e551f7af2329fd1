import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A copy of the model package `from` in `dir` whose model.onnx is 5,000 bytes onnxruntime cannot parse,
 * with its digest in model.json: the package checks pass and onnxruntime is the first to refuse it.
 */
export async function unparseableModelPackage(from: string, dir: string): Promise<string> {
  const pkg = join(dir, 'unparseable-model');
  await cp(from, pkg, { recursive: true });
  const garbage = Buffer.alloc(5000, 7);
  await writeFile(join(pkg, 'model.onnx'), garbage);
  const meta = JSON.parse(await readFile(join(pkg, 'model.json'), 'utf8')) as { onnx: { sha256: string } };
  meta.onnx.sha256 = createHash('sha256').update(garbage).digest('hex');
  await writeFile(join(pkg, 'model.json'), JSON.stringify(meta));
  return pkg;
}

import { parseArgs } from 'node:util';
import { generateSynthDataset, SYNTH_CATEGORIES, type Tier } from '@diad/datasets';
import { choiceOption, type Io, intOption, listOption, UsageError } from '../args.js';

export const SYNTH_USAGE = `Usage: diad synth --out <dir> --seed N [options]

Writes a deterministic synthetic inspection dataset in MVTec-AD layout (same seed => byte-identical files).

  --out <dir>            root folder to write (one sub-folder per category)
  --seed N               integer seed (required)
  --categories a,b       subset of: ${SYNTH_CATEGORIES.map((c) => c.name).join(', ')}
  --size 256             image side in pixels
  --tier easy|hard       clear defects, or faint/subtle ones (default easy)
  --train 200            good training images per category
  --test 60              test images per category, half of them defective
`;

export async function synthCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      seed: { type: 'string' },
      categories: { type: 'string', multiple: true },
      size: { type: 'string' },
      tier: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(SYNTH_USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError('--out <dir> is required');
  if (values.seed === undefined) throw new UsageError('--seed N is required');
  const opts = {
    out: values.out,
    seed: intOption('seed', values.seed, 0, 0, 0xffffffff),
    categories: listOption(values.categories),
    size: intOption('size', values.size, 256, 32, 2048),
    tier: choiceOption<Tier>('tier', values.tier, ['easy', 'hard'], 'easy'),
    train: intOption('train', values.train, 200, 0, 100_000),
    test: intOption('test', values.test, 60, 0, 100_000),
  };
  const started = performance.now();
  let lastPrint = 0;
  const summary = await generateSynthDataset({
    ...opts,
    onProgress(done, total) {
      const now = performance.now();
      if (values.quiet || (now - lastPrint < 500 && done < total)) return;
      lastPrint = now;
      io.stderr.write(`\rsynth ${done}/${total} samples`);
      if (done === total) io.stderr.write('\n');
    },
  });
  const seconds = (performance.now() - started) / 1000;
  io.stdout.write(
    `wrote ${summary.files} files for ${Object.keys(summary.categories).length} categories to ${summary.root} ` +
      `(tier ${opts.tier}, seed ${opts.seed}, ${opts.size}px) in ${seconds.toFixed(1)} s\n`,
  );
  return 0;
}

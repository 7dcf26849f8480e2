import { describe, expect, it } from 'vitest';
import { LayoutError, planMvtecImport } from '../../src/lifecycle/mvtec-layout.js';

describe('MVTec layout of an imported archive', () => {
  it('tells training normals, validation normals and defects apart, and pairs masks by folder and name', () => {
    const plan = planMvtecImport([
      'readme.txt',
      'screw/license.txt',
      'screw/train/good/000.png',
      'screw/test/good/000.png',
      'screw/test/thread/000.JPG',
      'screw/test/tip/000.png',
      'screw/ground_truth/thread/000_mask.png',
    ]);
    expect(plan.category).toBe('screw');
    expect(plan.skipped).toEqual(['readme.txt', 'screw/license.txt']);
    expect(plan.images.map((i) => [i.path, i.split, i.label, i.defectType, i.maskPath])).toEqual([
      ['screw/test/good/000.png', 'validation', 'normal', null, null],
      [
        'screw/test/thread/000.JPG',
        'validation',
        'defect',
        'thread',
        'screw/ground_truth/thread/000_mask.png',
      ],
      ['screw/test/tip/000.png', 'validation', 'defect', 'tip', null],
      ['screw/train/good/000.png', 'train', 'normal', null, null],
    ]);
  });

  it('refuses, naming the path: a mask of another defect folder, a mask two images fit, a mask for a good image, nesting', () => {
    const base = ['screw/train/good/0.png', 'screw/test/tip/1.png'];
    const refused = (paths: string[]) => {
      try {
        planMvtecImport(paths);
      } catch (e) {
        expect(e).toBeInstanceOf(LayoutError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused([...base, 'screw/ground_truth/thread/1_mask.png'])).toBe(
      '"screw/ground_truth/thread/1_mask.png": a mask without an image; expected screw/test/thread/1.png (or .jpg)',
    );
    expect(refused([...base, 'screw/ground_truth/tip/1_mask.png', 'screw/test/tip/1.jpg'])).toBe(
      '"screw/ground_truth/tip/1_mask.png": fits screw/test/tip/1.jpg and screw/test/tip/1.png; give the images different names',
    );
    expect(refused([...base, 'screw/ground_truth/good/0_mask.png'])).toContain('a mask for a good image');
    expect(refused([...base, 'screw/ground_truth/tip/1.png'])).toContain(
      'expected a mask named <image name>_mask.png',
    );
    expect(refused([...base, 'screw/test/tip/deep/2.png'])).toContain(
      '"screw/test/tip/deep/2.png": not in the MVTec layout',
    );
    expect(refused(['screw.png'])).toContain('"screw.png": a file at the top of the archive');
    expect(refused([])).toBe('archive: no category folder (expected <category>/train/good/…)');
  });
});

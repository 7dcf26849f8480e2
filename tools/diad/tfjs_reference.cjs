// Writes reference activations of the nsfwjs MobileNetV2 computed by TF.js itself (the fixture for the
// converter test). Dev tool, run once: needs @tensorflow/tfjs (not a repo dependency), e.g.
//   NODE_PATH=/tmp/tfjsenv/node_modules node tools/diad/tfjs_reference.cjs <nsfwjs>/dist/models/mobilenet_v2 out.json
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');

const [modelDir, outFile] = process.argv.slice(2);
const LAYERS = ['block_2_add', 'block_5_add', 'block_9_add', 'block_10_project_BN'];
const SIZE = 224;

function loadBundle(file) {
  const mod = { exports: {} };
  const src = fs.readFileSync(file, 'utf8');
  new Function('module', 'exports', 'define', src)(mod, mod.exports, undefined);
  return mod.exports;
}

// Same formula as tests/test_features.py: values in [-1, 1], NHWC.
function input() {
  const data = new Float32Array(SIZE * SIZE * 3);
  for (let h = 0; h < SIZE; h++)
    for (let w = 0; w < SIZE; w++)
      for (let c = 0; c < 3; c++)
        data[(h * SIZE + w) * 3 + c] = Math.sin(0.1 * h * (c + 1) + 0.07 * w) * Math.cos(0.05 * w * (c + 2));
  return tf.tensor4d(data, [1, SIZE, SIZE, 3]);
}

async function main() {
  const model = loadBundle(path.join(modelDir, 'model.min.js'));
  const group = model.weightsManifest[0];
  const buffers = group.paths.map((p) => Buffer.from(loadBundle(path.join(modelDir, `${p}.min.js`)), 'base64'));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const net = await tf.loadLayersModel({
    load: async () => ({ modelTopology: model.modelTopology, weightSpecs: group.weights, weightData }),
  });
  const sub = tf.model({ inputs: net.inputs, outputs: LAYERS.map((n) => net.getLayer(n).output) });
  const outs = sub.predict(input());
  const result = { size: SIZE, layers: {} };
  LAYERS.forEach((name, i) => {
    const t = outs[i].transpose([0, 3, 1, 2]); // NCHW like torch
    const v = t.dataSync();
    const [, c, h, w] = t.shape;
    let s = 0;
    let s2 = 0;
    for (const x of v) {
      s += x;
      s2 += x * x;
    }
    const mean = s / v.length;
    const slice = [];
    for (let ci = 0; ci < Math.min(c, 8); ci++)
      for (let hi = 0; hi < 6; hi++) for (let wi = 0; wi < 6; wi++) slice.push(v[(ci * h + hi) * w + wi]);
    result.layers[name] = {
      shape: t.shape,
      mean,
      std: Math.sqrt(s2 / v.length - mean * mean),
      slice_c8_h6_w6: slice,
      full: name === 'block_9_add' ? Array.from(v) : undefined,
    };
  });
  fs.writeFileSync(outFile, JSON.stringify(result));
  console.log(`wrote ${outFile}`);
}
main();

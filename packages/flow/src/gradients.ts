// tfjs-core registers gradients only on request (the union `@tensorflow/tfjs` bundle does it for
// you); divergence and training need them, so modules that call tf.grad import this file.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

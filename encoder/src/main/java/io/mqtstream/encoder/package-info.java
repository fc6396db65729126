/**
 * Frame preprocessing, the vision backbone and the Matryoshka Query Transformer, on DJL's PyTorch
 * engine with libtorch from the jars on the class path ({@link io.mqtstream.nn.Engines}).
 */
package io.mqtstream.encoder;

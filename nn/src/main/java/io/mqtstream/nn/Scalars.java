package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;

/**
 * Arithmetic with a constant that is safe under autograd. DJL's {@code mul(Number)}, {@code
 * div(Number)}, {@code maximum(Number)} (and their in-place forms) make the constant a tensor over
 * a Java direct buffer and close it at once; autograd keeps that tensor for the backward pass (the
 * gradient of x × c is grad × c), and the garbage collector may free and reuse its buffer before
 * then: rare non-finite gradients in training, on whatever parameters lie behind the product
 * ({@code ScalarsTest} and {@code TrainerTest#trainingUnderConstantGarbageCollectionSkipsNoStep}
 * reproduce them with DJL's overloads). Here the constant is created in x's manager, which outlives
 * the backward pass of x's graph.
 */
public final class Scalars {
  private Scalars() {}

  /** x × c. */
  public static NDArray times(NDArray x, double c) {
    return x.mul(constant(x, c));
  }

  /** x × c in place. */
  public static NDArray timesInPlace(NDArray x, double c) {
    return x.muli(constant(x, c));
  }

  /** x / c. */
  public static NDArray over(NDArray x, double c) {
    return x.div(constant(x, c));
  }

  /** max(x, c), element by element. */
  public static NDArray atLeast(NDArray x, double c) {
    return x.maximum(constant(x, c));
  }

  /** A 0-dim float32 tensor of c in x's manager (it takes x's type in the product). */
  private static NDArray constant(NDArray x, double c) {
    return x.getManager().create((float) c);
  }
}

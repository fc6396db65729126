package io.mqtstream.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * A product's constant stays valid until the backward pass: between the forward and the backward
 * the garbage collector runs and fresh direct buffers take whatever memory it freed. With DJL's
 * {@code mul(Number)} put back into {@link Scalars#times} the gradient of x × 3 read that memory in
 * 27 of 40 rounds (measured once); with {@link Scalars} it is 3 in every round.
 */
class ScalarsTest {
  @Test
  void aProductsGradientIsItsConstantAfterTheCollectorRan() {
    assertThat(roundsWithAWrongGradient(x -> Scalars.times(x, 3), 3f)).isZero();
    assertThat(roundsWithAWrongGradient(x -> Scalars.over(x, 0.5), 2f)).isZero();
    assertThat(roundsWithAWrongGradient(x -> Scalars.timesInPlace(x.mul(x), 3), 6f)).isZero();
    assertThat(roundsWithAWrongGradient(x -> Scalars.atLeast(x, 0), 1f)).isZero();
  }

  /** In how many of 40 rounds d(sum(op(x)))/dx at x = 1 was not {@code expected} everywhere. */
  private static int roundsWithAWrongGradient(UnaryOperator<NDArray> op, float expected) {
    int wrong = 0;
    try (NDManager manager = NDManager.newBaseManager()) {
      for (int round = 0; round < 40; round++) {
        try (NDManager scope = manager.newSubManager()) {
          NDArray x = scope.ones(new Shape(4, 8));
          x.setRequiresGradient(true);
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y = op.apply(x).sum();
            reuseFreedMemory();
            gc.backward(y);
          }
          for (float g : x.getGradient().toFloatArray()) {
            if (!(Math.abs(g - expected) < 1e-6f)) {
              wrong++;
              break;
            }
          }
        }
      }
    }
    return wrong;
  }

  /** Runs the collector, then fills many small direct buffers with NaN. */
  private static void reuseFreedMemory() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    List<ByteBuffer> filler = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      filler.add(
          ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, Float.NaN));
    }
  }
}

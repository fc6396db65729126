package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenProbeTest {

  /** The ridge solve: L Lᵀ = A, and the w it returns satisfies A w = b. */
  @Test
  void choleskySolvesASymmetricPositiveDefiniteSystem() {
    int d = 40;
    Random random = new Random(7);
    double[] x = new double[d * 60];
    for (int i = 0; i < x.length; i++) {
      x[i] = random.nextGaussian();
    }
    double[] a = new double[d * d]; // XᵀX over 60 rows, positive definite
    for (int r = 0; r < 60; r++) {
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          a[i * d + j] += x[r * d + i] * x[r * d + j];
        }
      }
    }
    double[] b = new double[d];
    for (int i = 0; i < d; i++) {
      b[i] = random.nextGaussian();
    }
    double[] l = TokenProbe.cholesky(a, d);
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double llt = 0;
        for (int k = 0; k < d; k++) {
          llt += l[i * d + k] * l[j * d + k];
        }
        assertThat(llt).isCloseTo(a[i * d + j], within(1e-9));
      }
    }
    double[] w = TokenProbe.solve(l, d, b);
    for (int i = 0; i < d; i++) {
      double aw = 0;
      for (int j = 0; j < d; j++) {
        aw += a[i * d + j] * w[j];
      }
      assertThat(aw).isCloseTo(b[i], within(1e-9));
    }
  }
}

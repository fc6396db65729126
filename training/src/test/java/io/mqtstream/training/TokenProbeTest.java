package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.mqtstream.world.Clip;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.ArrayList;
import java.util.List;
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

  /**
   * The count probe reads counts by shape where the tokens carry each object's shape, and not where
   * they carry only its colour: tokens built from real clips' objects, one noisy unit vector per
   * colour (and per shape, in the first case) added for each object a frame shows.
   */
  @Test
  void theCountProbeReadsShapesOnlyWhereTheTokensKeepThem() {
    SyntheticWorld world = new SyntheticWorld(new WorldConfig(64, 4, 1, 4, 0.6, 0.3, 0.3, null));
    double[] both = counts(world, true);
    double[] colourOnly = counts(world, false);
    assertThat(both[0]).as("shape counts, shapes kept").isGreaterThan(0.95);
    assertThat(both[1]).as("colour counts, shapes kept").isGreaterThan(0.95);
    assertThat(colourOnly[1]).as("colour counts, colours only").isGreaterThan(0.95);
    assertThat(colourOnly[0]).as("shape counts, colours only").isLessThan(0.8);
  }

  /**
   * The own-token read finds each object's place where token 1 + i holds identity i's place, and
   * the next identity's token does not give it: tokens built from real clips' objects, 16 tokens of
   * 4 values, token 1 + i holding (x, y, 1) of identity i when the frame shows it, all noisy.
   */
  @Test
  void theOwnTokenReadFindsAPlaceOnlyInTheObjectsOwnToken() {
    SyntheticWorld world = new SyntheticWorld(new WorldConfig(64, 4, 1, 4, 0.6, 0.3, 0.3, null));
    Random noise = new Random(5);
    List<TokenProbe.Sample> fit = identityTokens(world, Split.TRAIN, 600, noise);
    List<TokenProbe.Sample> test = identityTokens(world, Split.TEST, 300, noise);
    assertThat(TokenProbe.ownTokens(4, 0, fit, test, 1e-3)).as("own token").isGreaterThan(0.95);
    assertThat(TokenProbe.ownTokens(4, 1, fit, test, 1e-3))
        .as("the next identity's token")
        .isLessThan(0.7);
  }

  /** Every frame with an object, token 1 + i holding (x, y, 1) of identity i when shown. */
  private static List<TokenProbe.Sample> identityTokens(
      SyntheticWorld world, Split split, int clips, Random noise) {
    int dim = 4;
    double size = world.config().imageSize();
    return samples(
        world,
        split,
        clips,
        (PatchTargets.SLOTS + 1) * dim,
        noise,
        (o, t, tokens) -> {
          int at = (1 + PatchTargets.slot(o.colour(), o.shape())) * dim;
          tokens[at] += (float) (2 * o.x(t) / size - 1);
          tokens[at + 1] += (float) (2 * o.y(t) / size - 1);
          tokens[at + 2] += 1;
        });
  }

  private static double[] counts(SyntheticWorld world, boolean shapes) {
    Random noise = new Random(3);
    List<TokenProbe.Sample> fit = samples(world, Split.TRAIN, 400, shapes, noise);
    List<TokenProbe.Sample> test = samples(world, Split.TEST, 200, shapes, noise);
    return TokenProbe.counts(16, fit, test, 1e-3);
  }

  /** Every frame with an object, its "tokens" 16 values: 8 for colours, 8 for shapes. */
  private static List<TokenProbe.Sample> samples(
      SyntheticWorld world, Split split, int clips, boolean shapes, Random noise) {
    return samples(
        world,
        split,
        clips,
        16,
        noise,
        (o, t, tokens) -> {
          tokens[o.colour().ordinal()] += 1;
          if (shapes) {
            tokens[8 + o.shape().ordinal()] += 1;
          }
        });
  }

  /** What an object adds to its frame's tokens at frame t. */
  private interface Writes {
    void add(SceneObject o, int t, float[] tokens);
  }

  /** Every frame with an object: {@code width} noisy values, plus what each object there adds. */
  private static List<TokenProbe.Sample> samples(
      SyntheticWorld world, Split split, int clips, int width, Random noise, Writes writes) {
    List<TokenProbe.Sample> out = new ArrayList<>();
    for (int i = 0; i < clips; i++) {
      Clip clip = world.clip(split.seed(i));
      for (int t = 0; t < clip.frames(); t++) {
        List<SceneObject> objects = clip.visibleAt(t);
        if (objects.isEmpty()) {
          continue;
        }
        float[] tokens = new float[width];
        for (int k = 0; k < tokens.length; k++) {
          tokens[k] = (float) (0.05 * noise.nextGaussian());
        }
        for (SceneObject o : objects) {
          writes.add(o, t, tokens);
        }
        out.add(new TokenProbe.Sample(tokens, objects, t, clip.imageSize()));
      }
    }
    return out;
  }
}

package io.mqtstream.training;

import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Colour;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Shape;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.IntConsumer;

/**
 * What a frame's first m visual tokens carry about where each object is, read by a linear probe:
 * for each object identity (colour × shape, unique within a clip) a ridge regression from the
 * tokens, flattened, to the object's place (x and y), fitted on training clips and scored on test
 * clips the way the position question scores an answer (left or right, top or bottom; objects
 * within 12 % of the middle left out). A high probe score beside a low position score of the LM
 * says the place is in the tokens and the LM does not read it; a low one says the encoder lost it.
 */
public final class TokenProbe {
  private static final double MARGIN = 0.12; // of the image size, as SyntheticWorld's questions

  private final MqtEncoder encoder;
  private final SyntheticWorld world;
  private final CameraFrames cameraFrames = new CameraFrames("probe");

  public TokenProbe(MqtEncoder encoder, SyntheticWorld world) {
    this.encoder = encoder;
    this.world = world;
  }

  /**
   * The probe's score at one m.
   *
   * @param m tokens read
   * @param fitted frames with at least one object the regressions were fitted on
   * @param scored left/right and top/bottom calls scored
   * @param accuracy share of them right
   * @param rmsPixels root-mean-square error of the place read, in pixels, over every test object
   *     and both axes (objects near the middle included): against the 8–13 pixels an object moves
   *     over a 4-frame clip, it says whether motion could be read from the places too
   * @param shapeCounts share of (test frame, shape) counts read right: one ridge regression per
   *     shape from the tokens to how many objects of that shape the frame shows, rounded — what
   *     "how many circles are there?" asks, read without the LM
   * @param colourCounts the same per colour ("how many red shapes are there?"): beside {@code
   *     shapeCounts} it says whether the tokens keep an object's shape as well as its colour
   */
  public record Score(
      int m,
      int fitted,
      int scored,
      double accuracy,
      double rmsPixels,
      double shapeCounts,
      double colourCounts) {}

  /**
   * What the probe found.
   *
   * @param byM the score at each m asked
   * @param ownToken for an encoder with more than 15 latent queries (a token per identity with
   *     {@code identityTokens}): the share of left/right and top/bottom calls right when each
   *     identity i's place is read, by a regression of its own, from token 1 + i alone (NaN for
   *     other encoders): whether an object's token holds its place
   * @param nextToken the same read from token 1 + (i + 1 mod 15), the next identity's token: what a
   *     token says of an object not its own, the control for {@code ownToken}
   */
  public record Result(List<Score> byM, double ownToken, double nextToken) {}

  /** One frame's tokens (the first {@code maxM}, flattened) and its objects. */
  record Sample(float[] tokens, List<SceneObject> objects, int t, int size) {}

  /**
   * @param ms the m to probe, each at most the encoder's M
   * @param fitClips training clips to fit on (every frame of each)
   * @param testClips test clips to score on (every frame of each)
   * @param lambda ridge strength, relative to the mean diagonal of the features' Gram matrix
   * @param progress called with the clips encoded so far
   */
  public Result run(int[] ms, int fitClips, int testClips, double lambda, IntConsumer progress) {
    int maxM = 0;
    for (int m : ms) {
      if (m < 1 || m > encoder.maxTokens()) {
        throw new IllegalArgumentException("m must be in 1.." + encoder.maxTokens() + ": " + m);
      }
      maxM = Math.max(maxM, m);
    }
    boolean identityTokens = encoder.maxTokens() > PatchTargets.SLOTS;
    int kept = identityTokens ? Math.max(maxM, PatchTargets.SLOTS + 1) : maxM;
    List<Sample> fit = samples(Split.TRAIN, fitClips, kept, 0, progress);
    List<Sample> test = samples(Split.TEST, testClips, kept, fitClips, progress);
    if (fit.isEmpty()) {
      throw new IllegalArgumentException("no fitting frame shows an object: fit more clips");
    }
    int dim = fit.get(0).tokens().length / kept;
    List<Score> byM = new ArrayList<>();
    for (int m : ms) {
      byM.add(score(m * dim, fit, test, lambda, m));
    }
    return new Result(
        byM,
        identityTokens ? ownTokens(dim, 0, fit, test, lambda) : Double.NaN,
        identityTokens ? ownTokens(dim, 1, fit, test, lambda) : Double.NaN);
  }

  /**
   * Per identity i, a ridge regression from token 1 + ((i + shift) mod 15) alone ({@code dim}
   * values) to identity i's place, fitted on the {@code fit} frames that show it, and the share of
   * left/right and top/bottom calls it gets right on {@code test} (objects within 12 % of the
   * middle left out): shift 0 reads each object's own token, shift 1 the next identity's.
   */
  static double ownTokens(int dim, int shift, List<Sample> fit, List<Sample> test, double lambda) {
    int d = dim + 1;
    int right = 0;
    int scored = 0;
    double[] f = new double[d];
    for (Colour c : Colour.values()) {
      for (Shape s : Shape.values()) {
        int token = 1 + (PatchTargets.slot(c, s) + shift) % PatchTargets.SLOTS;
        BiConsumer<Sample, double[]> read = (sample, into) -> token(sample, token, dim, into);
        double[][] w = placeRead(fit, c, s, d, lambda, read);
        if (w == null) {
          continue;
        }
        for (Sample sample : test) {
          SceneObject o = find(sample.objects(), c, s);
          if (o == null) {
            continue;
          }
          read.accept(sample, f);
          double[] truth = {o.x(sample.t()), o.y(sample.t())};
          for (int axis = 0; axis < 2; axis++) {
            double offset = truth[axis] - sample.size() / 2.0;
            if (Math.abs(offset) <= MARGIN * sample.size()) {
              continue;
            }
            double predicted = 0;
            for (int a = 0; a < d; a++) {
              predicted += w[axis][a] * f[a];
            }
            scored++;
            right += (predicted < 0) == (offset < 0) ? 1 : 0;
          }
        }
      }
    }
    return scored == 0 ? Double.NaN : (double) right / scored;
  }

  /**
   * A ridge regression from the {@code d} features {@code read} puts in an array to identity (c,
   * s)'s place, fitted on the {@code fit} frames that show it: {x weights, y weights}, or null when
   * none does.
   */
  private static double[][] placeRead(
      List<Sample> fit,
      Colour c,
      Shape s,
      int d,
      double lambda,
      BiConsumer<Sample, double[]> read) {
    double[] gram = new double[d * d];
    double[][] rhs = new double[2][d];
    int n = 0;
    double[] f = new double[d];
    for (Sample sample : fit) {
      SceneObject o = find(sample.objects(), c, s);
      if (o == null) {
        continue;
      }
      read.accept(sample, f);
      for (int a = 0; a < d; a++) {
        if (f[a] == 0) {
          continue;
        }
        for (int b = a; b < d; b++) {
          gram[a * d + b] += f[a] * f[b];
        }
        rhs[0][a] += f[a] * place(o.x(sample.t()), sample.size());
        rhs[1][a] += f[a] * place(o.y(sample.t()), sample.size());
      }
      n++;
    }
    if (n == 0) {
      return null;
    }
    double[] chol = ridgeFactor(gram, d, lambda);
    return new double[][] {solve(chol, d, rhs[0]), solve(chol, d, rhs[1])};
  }

  /** Token {@code k}'s {@code dim} values, then 1. */
  private static void token(Sample sample, int k, int dim, double[] f) {
    for (int a = 0; a < dim; a++) {
      f[a] = sample.tokens()[k * dim + a];
    }
    f[dim] = 1;
  }

  private List<Sample> samples(Split split, int clips, int maxM, int done, IntConsumer progress) {
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < clips; i++) {
      Clip clip = world.clip(split.seed(i));
      List<VisualTokens> frames = encoder.encode(cameraFrames.of(clip));
      for (int t = 0; t < frames.size(); t++) {
        if (!clip.visibleAt(t).isEmpty()) {
          out.add(
              new Sample(
                  frames.get(t).tokens(maxM).toFloatArray(),
                  clip.visibleAt(t),
                  t,
                  clip.imageSize()));
        }
      }
      if ((i + 1) % 100 == 0 || i + 1 == clips) {
        progress.accept(done + i + 1);
      }
    }
    return out;
  }

  /** Fits on {@code fit} and scores on {@code test}, reading the first {@code width} values. */
  private static Score score(int width, List<Sample> fit, List<Sample> test, double lambda, int m) {
    int d = width + 1; // m tokens flattened, and a bias
    Map<Integer, double[][]> weights = new LinkedHashMap<>(); // slot → (x, y) weights
    for (Colour c : Colour.values()) {
      for (Shape s : Shape.values()) {
        double[][] w =
            placeRead(fit, c, s, d, lambda, (sample, into) -> features(sample, width, into));
        if (w != null) {
          weights.put(PatchTargets.slot(c, s), w);
        }
      }
    }
    int right = 0;
    int scored = 0;
    double squares = 0;
    int placed = 0;
    double[] f = new double[d];
    for (Sample sample : test) {
      features(sample, width, f);
      for (SceneObject o : sample.objects()) {
        double[][] w = weights.get(PatchTargets.slot(o.colour(), o.shape()));
        if (w == null) {
          continue;
        }
        double[] truth = {o.x(sample.t()), o.y(sample.t())};
        for (int axis = 0; axis < 2; axis++) {
          double predicted = 0;
          for (int a = 0; a < d; a++) {
            predicted += w[axis][a] * f[a];
          }
          double error = (predicted + 1) * sample.size() / 2 - truth[axis]; // in pixels
          squares += error * error;
          placed++;
          double offset = truth[axis] - sample.size() / 2.0;
          if (Math.abs(offset) <= MARGIN * sample.size()) {
            continue;
          }
          scored++;
          right += (predicted < 0) == (offset < 0) ? 1 : 0;
        }
      }
    }
    double[] counts = counts(width, fit, test, lambda);
    return new Score(
        m,
        fit.size(),
        scored,
        scored == 0 ? Double.NaN : (double) right / scored,
        placed == 0 ? Double.NaN : Math.sqrt(squares / placed),
        counts[0],
        counts[1]);
  }

  /**
   * One ridge regression per shape and per colour from the first {@code width} token values to the
   * frame's count of objects of that shape (colour), fitted on {@code fit}, rounded and scored on
   * {@code test}: {shape counts right, colour counts right}, each a share.
   */
  static double[] counts(int width, List<Sample> fit, List<Sample> test, double lambda) {
    int d = width + 1;
    int shapes = Shape.values().length;
    int targets = shapes + Colour.values().length;
    double[] gram = new double[d * d];
    double[][] rhs = new double[targets][d];
    double[] f = new double[d];
    for (Sample sample : fit) {
      features(sample, width, f);
      int[] truth = counts(sample.objects());
      for (int a = 0; a < d; a++) {
        for (int b = a; b < d; b++) {
          gram[a * d + b] += f[a] * f[b];
        }
        for (int k = 0; k < targets; k++) {
          rhs[k][a] += f[a] * truth[k];
        }
      }
    }
    double[] chol = ridgeFactor(gram, d, lambda);
    double[][] w = new double[targets][];
    for (int k = 0; k < targets; k++) {
      w[k] = solve(chol, d, rhs[k]);
    }
    int[] right = new int[2];
    for (Sample sample : test) {
      features(sample, width, f);
      int[] truth = counts(sample.objects());
      for (int k = 0; k < targets; k++) {
        double predicted = 0;
        for (int a = 0; a < d; a++) {
          predicted += w[k][a] * f[a];
        }
        right[k < shapes ? 0 : 1] += Math.round(predicted) == truth[k] ? 1 : 0;
      }
    }
    return new double[] {
      (double) right[0] / (test.size() * shapes),
      (double) right[1] / (test.size() * Colour.values().length)
    };
  }

  /** How many objects of each shape, then of each colour. */
  private static int[] counts(List<SceneObject> objects) {
    int shapes = Shape.values().length;
    int[] out = new int[shapes + Colour.values().length];
    for (SceneObject o : objects) {
      out[o.shape().ordinal()]++;
      out[shapes + o.colour().ordinal()]++;
    }
    return out;
  }

  /** The first {@code width} token values, then 1. */
  private static void features(Sample sample, int width, double[] f) {
    for (int a = 0; a < width; a++) {
      f[a] = sample.tokens()[a];
    }
    f[width] = 1;
  }

  private static double place(double coordinate, int size) {
    return 2 * coordinate / size - 1;
  }

  private static SceneObject find(List<SceneObject> objects, Colour c, Shape s) {
    for (SceneObject o : objects) {
      if (o.colour() == c && o.shape() == s) {
        return o;
      }
    }
    return null;
  }

  /**
   * The Cholesky factor of a ridge system: {@code gram} holds XᵀX in its upper triangle (row-major,
   * d × d); it is mirrored, λ times its mean diagonal added to the diagonal, and factored.
   */
  private static double[] ridgeFactor(double[] gram, int d, double lambda) {
    double trace = 0;
    for (int a = 0; a < d; a++) {
      trace += gram[a * d + a];
    }
    for (int a = 0; a < d; a++) {
      for (int b = 0; b < a; b++) {
        gram[a * d + b] = gram[b * d + a];
      }
      gram[a * d + a] += lambda * trace / d;
    }
    return cholesky(gram, d);
  }

  /** The lower Cholesky factor of a symmetric positive definite d × d matrix, row-major. */
  static double[] cholesky(double[] a, int d) {
    double[] l = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j <= i; j++) {
        double sum = a[i * d + j];
        for (int k = 0; k < j; k++) {
          sum -= l[i * d + k] * l[j * d + k];
        }
        if (i == j) {
          if (sum <= 0) {
            throw new ArithmeticException("not positive definite at " + i);
          }
          l[i * d + i] = Math.sqrt(sum);
        } else {
          l[i * d + j] = sum / l[j * d + j];
        }
      }
    }
    return l;
  }

  /** Solves L Lᵀ w = b for w. */
  static double[] solve(double[] l, int d, double[] b) {
    double[] y = new double[d];
    for (int i = 0; i < d; i++) {
      double sum = b[i];
      for (int k = 0; k < i; k++) {
        sum -= l[i * d + k] * y[k];
      }
      y[i] = sum / l[i * d + i];
    }
    double[] w = new double[d];
    for (int i = d - 1; i >= 0; i--) {
      double sum = y[i];
      for (int k = i + 1; k < d; k++) {
        sum -= l[k * d + i] * w[k];
      }
      w[i] = sum / l[i * d + i];
    }
    return w;
  }
}

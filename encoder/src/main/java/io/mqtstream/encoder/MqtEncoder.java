package io.mqtstream.encoder;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Engines;
import io.mqtstream.wire.FrameRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Frames in, visual tokens out: preprocessing, the vision backbone and the MQT, encoded once at M
 * per frame. Owns its native memory: parameters live in one manager; each {@link #encode} batch
 * runs in a sub-manager that is closed before it returns, so a long run does not grow.
 *
 * <p>Checkpoints are a folder with {@code config.json} ({@link EncoderConfig}) and {@code
 * encoder.safetensors}, whose tensor names are the dotted names of {@link #parameters()}, e.g.
 * {@code vision.layers.0.attn.qkv.weight} or {@code mqt.latent_queries}.
 */
public final class MqtEncoder implements FrameEncoder, AutoCloseable {
  public static final String CONFIG_FILE = "config.json";
  public static final String WEIGHTS_FILE = "encoder.safetensors";

  private final EncoderConfig config;
  private final NDManager manager;
  private final TinyViT backbone;
  private final QueryTransformer mqt;
  private final FramePreprocessor preprocessor;
  private final Map<String, Parameter> parameters;

  private MqtEncoder(EncoderConfig config, Device device) {
    this.config = config;
    this.manager = NDManager.newBaseManager(device, Engines.pytorch().getEngineName());
    this.backbone = new TinyViT(config.vision());
    this.mqt = queryTransformer(config.mqt());
    this.preprocessor = new FramePreprocessor(config);
    int s = config.vision().imageSize();
    backbone.initialize(manager, DataType.FLOAT32, new Shape(1, 3, s, s));
    mqt.block()
        .initialize(
            manager,
            DataType.FLOAT32,
            new Shape(1, config.mqt().patches(), config.mqt().featureDim()));
    Map<String, Parameter> named = new LinkedHashMap<>();
    backbone.collect("vision", named);
    mqt.collect("mqt", named);
    this.parameters = Collections.unmodifiableMap(named);
  }

  /** The configured block: the reference one, or the legacy one of mqt-tiny v2. */
  private static QueryTransformer queryTransformer(MqtConfig c) {
    if (c.block() == MqtConfig.Block.LEGACY) {
      MatryoshkaQueryTransformer legacy = new MatryoshkaQueryTransformer(c);
      return new QueryTransformer() {
        @Override
        public NDArray forward(ParameterStore ps, NDArray features, int m, boolean training) {
          return legacy.forward(ps, features, m, training);
        }

        @Override
        public void collect(String prefix, Map<String, Parameter> out) {
          legacy.collect(prefix, out);
        }

        @Override
        public ai.djl.nn.Block block() {
          return legacy;
        }

        @Override
        public NDArray positionalScores(ParameterStore ps, NDManager scope, boolean training) {
          return legacy.positionalScores(ps, scope, training);
        }
      };
    }
    MqtResampler reference =
        new MqtResampler(
            new MqtResampler.Config(c.maxTokens(), c.featureDim(), c.outputDim(), c.heads()));
    int[] grid = io.mqtstream.nn.SinCos2d.grid(c.patches());
    return new QueryTransformer() {
      @Override
      public NDArray forward(ParameterStore ps, NDArray features, int m, boolean training) {
        return reference.forward(ps, features, m, grid[0], grid[1], training);
      }

      @Override
      public void collect(String prefix, Map<String, Parameter> out) {
        reference.collect(prefix, out);
      }

      @Override
      public ai.djl.nn.Block block() {
        return reference;
      }
    };
  }

  /** A new encoder with random weights drawn from {@code seed}. */
  public static MqtEncoder create(EncoderConfig config, long seed) {
    Engine engine = Engines.pytorch();
    engine.setRandomSeed((int) seed);
    return new MqtEncoder(config, engine.defaultDevice());
  }

  /**
   * Loads a checkpoint folder. Every tensor the model needs must be there with its exact shape, and
   * nothing else may be.
   *
   * @throws IOException naming the tensor that is missing, unexpected or of the wrong shape
   */
  public static MqtEncoder load(Path dir) throws IOException {
    return load(dir, EncoderConfig.read(dir.resolve(CONFIG_FILE)));
  }

  /**
   * The encoder of {@code dir} with its cross-attention keys made of {@code keyMode}: the same
   * weights, since a legacy block's key projection reads positions alone or features plus positions
   * at the same width. It lets a model trained with positional keys go on training with keys that
   * see the image (train {@code --start-from}), so a latent query can look for an object instead of
   * a place.
   *
   * @throws IllegalArgumentException for the reference block, whose keys are positional only
   */
  public static MqtEncoder load(Path dir, MqtConfig.KeyMode keyMode) throws IOException {
    return load(dir, EncoderConfig.read(dir.resolve(CONFIG_FILE)).withKeyMode(keyMode));
  }

  private static MqtEncoder load(Path dir, EncoderConfig config) throws IOException {
    MqtEncoder encoder = new MqtEncoder(config, Engines.pytorch().defaultDevice());
    try {
      encoder.loadWeights(dir.resolve(WEIGHTS_FILE));
      return encoder;
    } catch (IOException | RuntimeException e) {
      encoder.close();
      throw e;
    }
  }

  private void loadWeights(Path file) throws IOException {
    Checkpoints.load(file, parameters, manager);
  }

  /** Writes {@code config.json} and {@code encoder.safetensors} into {@code dir}. */
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    config.write(dir.resolve(CONFIG_FILE));
    Checkpoints.save(dir.resolve(WEIGHTS_FILE), parameters, manager);
  }

  /**
   * Encodes frames at M tokens each.
   *
   * @throws FrameDecodeException if a frame's pixels cannot be decoded
   */
  public List<VisualTokens> encode(List<FrameRecord> frames) {
    return encodeDecoded(frames.stream().map(preprocessor::bgrPixels).toList());
  }

  @Override
  public byte[] pixels(FrameRecord frame) {
    return preprocessor.bgrPixels(frame);
  }

  @Override
  public int maxTokens() {
    return config.mqt().maxTokens();
  }

  @Override
  public byte[] blank() {
    int size = config.vision().imageSize();
    return new byte[size * size * 3];
  }

  /** Encodes frames decoded by {@link FramePreprocessor#bgrPixels} at M tokens each. */
  @Override
  public List<VisualTokens> encodeDecoded(List<byte[]> frames) {
    if (frames.isEmpty()) {
      return List.of();
    }
    try (NDManager batch = manager.newSubManager()) {
      ParameterStore ps = new ParameterStore(batch, false);
      NDArray images = preprocessor.batchDecoded(batch, frames); // (B, 3, H, W)
      return VisualTokens.batch(forward(ps, images, config.mqt().maxTokens(), false)); // (B, M, D)
    }
  }

  /**
   * The model on normalised images, for training and tests.
   *
   * @param images (B, 3, H, W)
   * @return (B, m, outputDim)
   */
  public NDArray forward(ParameterStore ps, NDArray images, int m, boolean training) {
    NDArray features = backbone.features(ps, images, training); // (B, P, Dv)
    return mqt.forward(ps, features, m, training); // (B, m, D)
  }

  /**
   * Where each latent query looks, (H, M, P) scores before the softmax over patches: the legacy
   * block with positional keys only, whose attention does not depend on the image.
   *
   * @throws IllegalStateException for any other block
   */
  public NDArray positionalScores(ParameterStore ps, NDManager scope, boolean training) {
    return mqt.positionalScores(ps, scope, training);
  }

  public EncoderConfig config() {
    return config;
  }

  public FramePreprocessor preprocessor() {
    return preprocessor;
  }

  public VisionBackbone backbone() {
    return backbone;
  }

  /** Every parameter by its checkpoint name, in a stable order. */
  public Map<String, Parameter> parameters() {
    return parameters;
  }

  /** The manager that owns the parameters; per-batch work uses sub-managers of it. */
  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    manager.close();
  }
}

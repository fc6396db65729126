package io.mqtstream.llava;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.ClipImageProcessor;
import io.mqtstream.encoder.ClipVisionConfig;
import io.mqtstream.encoder.ClipVisionTower;
import io.mqtstream.encoder.FrameEncoder;
import io.mqtstream.encoder.MqtResampler;
import io.mqtstream.nn.CheckpointFolder;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Tensors;
import io.mqtstream.reasoner.DecoderLm;
import io.mqtstream.reasoner.KvCache;
import io.mqtstream.reasoner.Reasoner;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real MQT-LLaVA checkpoint, assembled as the reference assembles it: the CLIP tower's selected
 * hidden state ({@link ClipVisionTower}) → the reference MQT block ({@link MqtResampler}, {@code
 * model.query_abstractor.*}), whose first m tokens replace {@code <image>} in the prompt → LLaMA
 * ({@link DecoderLm} under Hugging Face's names), greedy decoding with a KV cache.
 *
 * <p>Folders: the LLaVA folder ({@code config.json}, {@code *.safetensors} single or sharded,
 * {@code tokenizer.json}) and the vision tower's ({@code config.json}, {@code model.safetensors},
 * {@code preprocessor_config.json}). Weights are held in fp32 or fp16. M comes from the {@code
 * query} tensor's rows; the MQT's head count is the reference's 16.
 */
public final class MqtLlava implements AutoCloseable {
  /** The reference hard-codes 16 heads; no checkpoint records it. */
  public static final int MQT_HEADS = 16;

  private static final String MQT_PREFIX = "model.query_abstractor";

  private final LlavaConfig config;
  private final ClipVisionConfig visionConfig;
  private final ClipImageProcessor processor;
  private final NDManager manager;
  private final ClipVisionTower vision;
  private final MqtResampler mqt;
  private final DecoderLm lm;
  private final PromptTokenizer tokenizer;
  private final DataType dtype;

  private MqtLlava(
      LlavaConfig config,
      ClipVisionConfig visionConfig,
      ClipImageProcessor processor,
      int maxTokens,
      PromptTokenizer tokenizer,
      Device device,
      DataType dtype) {
    this.config = config;
    this.dtype = dtype;
    this.visionConfig = visionConfig;
    this.processor = processor;
    this.tokenizer = tokenizer;
    this.manager = NDManager.newBaseManager(device, Engines.pytorch().getEngineName());
    int side = visionConfig.imageSize();
    vision = new ClipVisionTower(visionConfig);
    vision.initialize(manager, dtype, new Shape(1, 3, side, side));
    mqt =
        new MqtResampler(
            new MqtResampler.Config(
                maxTokens, visionConfig.hiddenSize(), config.lm().dim(), MQT_HEADS));
    mqt.initialize(
        manager,
        dtype,
        new Shape(1, (long) visionConfig.grid() * visionConfig.grid(), visionConfig.hiddenSize()));
    lm = new DecoderLm(config.lm());
    lm.initialize(manager, dtype, new Shape(1, 1, config.lm().dim()));
  }

  /**
   * Loads a checkpoint.
   *
   * @param llmDir the LLaVA folder
   * @param visionDir the vision tower's folder; null: {@code mm_vision_tower} as a path (absolute,
   *     or relative to the LLaVA folder)
   * @throws IOException naming what is missing, of the wrong shape, or does not fit in memory
   */
  public static MqtLlava load(Path llmDir, Path visionDir, Device device) throws IOException {
    return load(llmDir, visionDir, device, DataType.FLOAT32);
  }

  /**
   * As {@link #load(Path, Path, Device)}, the weights held and the model run in {@code dtype}
   * (FLOAT32, BFLOAT16 or FLOAT16; a checkpoint's tensors are converted on the way in).
   */
  public static MqtLlava load(Path llmDir, Path visionDir, Device device, DataType dtype)
      throws IOException {
    requireSupported(dtype);
    LlavaConfig config = LlavaConfig.read(llmDir.resolve("config.json"));
    Path tower = visionDir != null ? visionDir : towerFolder(llmDir, config.visionTower());
    ClipVisionConfig vc =
        ClipVisionConfig.read(
            tower.resolve("config.json"), config.selectLayer(), config.selectFeature());
    if (vc.hiddenSize() != config.visionHidden()) {
      throw new IOException(
          "mm_hidden_size "
              + config.visionHidden()
              + " does not match the tower's hidden_size "
              + vc.hiddenSize());
    }
    if (!vc.selectFeature().equals("patch")) {
      throw new IOException("mm_vision_select_feature: the MQT takes patch features only");
    }
    ClipImageProcessor processor =
        ClipImageProcessor.read(tower.resolve("preprocessor_config.json"), config.pad());
    CheckpointFolder llmWeights = CheckpointFolder.open(llmDir);
    CheckpointFolder towerWeights = CheckpointFolder.open(tower);
    int maxTokens = (int) llmWeights.shape(MQT_PREFIX + ".query")[0];
    if (!device.isGpu()) {
      requireMemory(config, vc, maxTokens, dtype, availableMemory());
    }
    PromptTokenizer tokenizer =
        PromptTokenizer.load(llmDir.resolve("tokenizer.json"), config.bosId());
    MqtLlava model = new MqtLlava(config, vc, processor, maxTokens, tokenizer, device, dtype);
    try {
      Map<String, Parameter> towerParams = new LinkedHashMap<>();
      model.vision.collect("vision_model", towerParams);
      Checkpoints.loadFrom(towerWeights, towerParams);
      Map<String, Parameter> llmParams = new LinkedHashMap<>();
      model.mqt.collect(MQT_PREFIX, llmParams);
      model.lm.collectHuggingFace(llmParams);
      Checkpoints.loadFrom(llmWeights, llmParams);
      return model;
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * The shapes of a configuration with random weights and no tokenizer: for measuring speed without
   * the checkpoint ({@code bench llava --random-weights}).
   *
   * @throws IOException when the fp32 weights cannot fit in this machine's memory
   */
  public static MqtLlava random(
      LlavaConfig config, ClipVisionConfig vision, int maxTokens, Device device, DataType dtype)
      throws IOException {
    requireSupported(dtype);
    if (!device.isGpu()) { // a GPU's own memory is its limit: libtorch reports an OOM clearly
      requireMemory(config, vision, maxTokens, dtype, availableMemory());
    }
    int s = vision.imageSize();
    ClipImageProcessor processor =
        new ClipImageProcessor(
            s,
            s,
            s,
            1 / 255f,
            new float[] {0.48145466f, 0.4578275f, 0.40821073f},
            new float[] {0.26862954f, 0.26130258f, 0.27577711f},
            config.pad());
    return new MqtLlava(config, vision, processor, maxTokens, null, device, dtype);
  }

  private static Path towerFolder(Path llmDir, String tower) throws IOException {
    for (Path candidate : List.of(llmDir.resolve(tower), Path.of(tower))) {
      if (Files.isRegularFile(candidate.resolve("config.json"))) {
        return candidate;
      }
    }
    throw new IOException(
        "mm_vision_tower '"
            + tower
            + "' is not a folder here (a hub name?): give the tower's local folder"
            + " (--vision, or model.vision in the engine's config)");
  }

  private static void requireSupported(DataType dtype) {
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
      throw new IllegalArgumentException("dtype must be fp32 or fp16, was " + name(dtype));
    }
  }

  /**
   * Fails before allocating when the weights in {@code dtype} cannot fit in {@code available} bytes
   * (negative: unknown, no check), naming both sizes.
   */
  public static void requireMemory(
      LlavaConfig config, ClipVisionConfig vc, int maxTokens, DataType dtype, long available)
      throws IOException {
    long bytes = (long) dtype.getNumOfBytes() * parameters(config, vc, maxTokens);
    if (available > 0 && bytes > available) {
      throw new IOException(
          String.format(
              java.util.Locale.ROOT,
              "the model needs %.1f GiB for its %s weights; this machine has %.1f GiB available"
                  + " (use fp16, run it on a GPU with the cuda profile, or on a machine with more"
                  + " memory)",
              bytes / (double) (1L << 30),
              name(dtype),
              available / (double) (1L << 30)));
    }
  }

  /** fp32, bf16 or fp16: the names the configuration uses. */
  public static String name(DataType dtype) {
    return switch (dtype) {
      case BFLOAT16 -> "bf16";
      case FLOAT16 -> "fp16";
      default -> "fp32";
    };
  }

  /**
   * The configuration's name of a type: fp32 or fp16. bf16 is refused: DJL 0.35's PyTorch engine
   * aborts the process on a bfloat16 array (checkpoints' BF16 tensors are read and converted).
   */
  public static DataType dtype(String name) {
    return switch (name) {
      case "fp32" -> DataType.FLOAT32;
      case "fp16" -> DataType.FLOAT16;
      case "bf16" ->
          throw new IllegalArgumentException(
              "bf16 cannot be held: DJL's PyTorch engine aborts on bfloat16 arrays; use fp16"
                  + " (half the memory too) or fp32");
      default -> throw new IllegalArgumentException("must be fp32 or fp16, was " + name);
    };
  }

  /** The type the weights are held and the model runs in. */
  public DataType dtype() {
    return dtype;
  }

  /** The parameters held: the tower's layers that run, the MQT block, the language model. */
  public static long parameters(LlavaConfig config, ClipVisionConfig vc, int maxTokens) {
    long d = config.lm().dim();
    long vd = vc.hiddenSize();
    long mqt = (long) maxTokens * (vd + d) + 4L * d * d + 4 * d + 6 * vd + vd * d;
    return config.lmParameters() + vc.parametersRun() + mqt;
  }

  /** MemAvailable from /proc/meminfo, or -1 where there is none. */
  private static long availableMemory() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemAvailable:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  public LlavaConfig config() {
    return config;
  }

  /** M, the most visual tokens per image. */
  public int maxTokens() {
    return mqt.config().maxTokens();
  }

  /** The tokenizer; null for a {@link #random} model. */
  public PromptTokenizer tokenizer() {
    return tokenizer;
  }

  /** The language model, for callers that drive prefill and decoding themselves (benchmarks). */
  public DecoderLm languageModel() {
    return lm;
  }

  /** The vision tower's shape. */
  public ClipVisionConfig visionConfig() {
    return visionConfig;
  }

  /** The picture as the tower takes it, (3, S, S) floats ({@link ClipImageProcessor}). */
  public float[] pixels(BufferedImage image) {
    return processor.pixels(image);
  }

  /**
   * The selected hidden state of the tower.
   *
   * @param pixels (B, 3, S, S)
   * @return (B, P, Dv)
   */
  public NDArray features(NDArray pixels) {
    ParameterStore ps = new ParameterStore(pixels.getManager(), false);
    return vision.features(ps, pixels, false);
  }

  /** The first m visual tokens of each image, (B, P, Dv) → (B, m, D): encode once, slice. */
  public NDArray visualTokens(NDArray features, int m) {
    ParameterStore ps = new ParameterStore(features.getManager(), false);
    int g = visionConfig.grid();
    return mqt.forward(ps, features, m, g, g, false);
  }

  /**
   * The prompt's input embeddings: its text tokens' embeddings with the frames' visual tokens at
   * {@link PromptTokenizer#IMAGE}. A window of T frames puts their tokens there one frame after the
   * other, in time order (T·m positions).
   *
   * @param ids the prompt's ids, exactly one {@link PromptTokenizer#IMAGE}
   * @param frames T × (m, D) visual tokens
   * @return (1, L, D)
   */
  public NDArray embed(NDManager scope, long[] ids, List<NDArray> frames) {
    int at = -1;
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] == PromptTokenizer.IMAGE) {
        if (at >= 0) {
          throw new IllegalArgumentException("the prompt has more than one <image>");
        }
        at = i;
      }
    }
    if (at < 0) {
      throw new IllegalArgumentException("the prompt has no <image>");
    }
    ParameterStore ps = new ParameterStore(scope, false);
    List<NDArray> parts = new ArrayList<>();
    if (at > 0) {
      parts.add(
          lm.embedTokens(
              ps,
              scope,
              new long[][] {java.util.Arrays.copyOfRange(ids, 0, at)},
              false)); // (1, a, D)
    }
    for (NDArray f : frames) {
      parts.add(
          f.reshape(1, f.getShape().get(f.getShape().dimension() - 2), lm.config().dim())
              .toType(dtype, false));
    }
    if (at + 1 < ids.length) {
      parts.add(
          lm.embedTokens(
              ps,
              scope,
              new long[][] {java.util.Arrays.copyOfRange(ids, at + 1, ids.length)},
              false));
    }
    return NDArrays.concat(new NDList(parts), 1); // (1, L, D)
  }

  /** Logits over every position of the input embeddings, (1, L, D) → (1, L, V). */
  public NDArray logits(NDArray embeds) {
    ParameterStore ps = new ParameterStore(embeds.getManager(), false);
    int l = Math.toIntExact(embeds.getShape().get(1));
    return lm.forward(ps, embeds, positions(0, l), new float[1][l], null, false, false).logits();
  }

  /**
   * Greedy decoding from the input embeddings: at most {@code maxNew} ids, the end-of-sequence id
   * included when it comes (as Hugging Face's {@code generate} returns them).
   */
  public long[] generate(NDArray embeds, int maxNew) {
    NDManager scope = embeds.getManager();
    ParameterStore ps = new ParameterStore(scope, false);
    int l = Math.toIntExact(embeds.getShape().get(1));
    DecoderLm.Forward f =
        lm.forward(ps, embeds, positions(0, l), new float[1][l], null, true, false);
    List<Long> out = new ArrayList<>();
    for (int step = 0; step < maxNew; step++) {
      long next = f.logits().get(new NDIndex("0, -1, :")).argMax().getLong();
      out.add(next);
      if (next == config.eosId() || step == maxNew - 1) {
        break;
      }
      KvCache cache = f.cache();
      NDArray x = lm.embedTokens(ps, scope, new long[][] {{next}}, false); // (1, 1, D)
      f = lm.forward(ps, x, positions(l + step, 1), new float[1][1], cache, true, false);
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static long[][] positions(int from, int count) {
    long[][] p = new long[1][count];
    for (int i = 0; i < count; i++) {
      p[0][i] = from + i;
    }
    return p;
  }

  /**
   * The engine's vision stage over this model ({@link FrameEncoder}); closing it closes the model.
   */
  public FrameEncoder frameEncoder() {
    return new LlavaEngineParts.Encoder(this);
  }

  /**
   * The engine's language stage over this model: a {@link Reasoner} with LLaVA's prompt format (the
   * Vicuna v1 template, the window's visual tokens at {@code <image>}); the model stays this
   * object's.
   */
  public Reasoner reasoner() {
    if (tokenizer == null) {
      throw new IllegalStateException("a random-weights model has no tokenizer");
    }
    return Reasoner.of(lm, manager, new LlavaEngineParts.Format(tokenizer, config.eosId()));
  }

  /** A scope for one request's arrays, on the model's device; close it after. */
  public NDManager newScope() {
    return manager.newSubManager();
  }

  /** Pixels of one picture as a (1, 3, S, S) array owned by {@code scope}. */
  public NDArray pixelArray(NDManager scope, float[] pixels) {
    int s = visionConfig.imageSize();
    return Tensors.create(scope, pixels, 0, new Shape(1, 3, s, s));
  }

  @Override
  public void close() {
    manager.close();
    if (tokenizer != null) {
      tokenizer.close();
    }
  }
}

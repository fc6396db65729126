package io.mqtstream.reasoner;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Engines;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The LLM stage: the tokenizer, the decoder LM and its weights, prompt assembly, and generation. A
 * prompt's input is [frame 1's m tokens + frame-index embedding 1, …, frame T's, the separator, the
 * question]; the answer is generated after it, token by token with a KV cache.
 *
 * <p>Checkpoints are a folder: {@code llm.json} ({@link LmConfig}), {@code llm.safetensors} (tensor
 * names {@code llm.embed_tokens.weight}, {@code llm.layers.{i}.attn.q_proj.weight}, …) and {@code
 * tokenizer.json}.
 */
public final class Reasoner implements RunningBatch.Factory, AutoCloseable {
  public static final String CONFIG_FILE = "llm.json";
  public static final String WEIGHTS_FILE = "llm.safetensors";
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private final NDManager manager;
  private final DecoderLm lm;
  private final TextTokenizer tokenizer; // null for another Format
  private final Format format; // null: this project's own format
  private final boolean ownsManager;
  private final Map<String, Parameter> parameters;
  private volatile int prefillChunkTokens = DEFAULT_PREFILL_CHUNK_TOKENS;

  /**
   * Padded positions per prefill chunk: bounds the activations one prefill holds (a batch of 32
   * prompts of 267 positions would otherwise hold 8,544 positions of every layer at once). On this
   * 2-core CPU the chunk size changed prefill speed by less than the run-to-run noise.
   */
  public static final int DEFAULT_PREFILL_CHUNK_TOKENS = 2048;

  /**
   * How another model family's prompts become input and its answers end (LLaVA's, in module {@code
   * llava}); this project's own format (frame-index embeddings, {@code <sep>}, a word-level
   * tokenizer) needs none.
   */
  public interface Format extends AutoCloseable {
    /** A prompt of this format for a question. */
    Prompt prompt(String id, List<VisualTokens> frames, String question, Sampling s, Object ctx);

    /** The prompt's input embeddings, (L, D), L = {@link Prompt#length()}, in {@code scope}. */
    NDArray embed(ParameterStore ps, NDManager scope, DecoderLm lm, Prompt prompt);

    /** The end-of-answer id. */
    long eos();

    /** Text of generated ids. */
    String decode(long[] ids);

    @Override
    void close();
  }

  /**
   * A reasoner over a model built elsewhere, with another prompt format (an MQT-LLaVA checkpoint's
   * LLaMA): the engine's batching and decoding run it unchanged. The model and its manager stay the
   * caller's; closing this closes the format only.
   */
  public static Reasoner of(DecoderLm lm, NDManager manager, Format format) {
    return new Reasoner(lm, manager, format);
  }

  private Reasoner(DecoderLm lm, NDManager manager, Format format) {
    this.tokenizer = null;
    this.format = format;
    this.manager = manager;
    this.ownsManager = false;
    this.lm = lm;
    this.parameters = Map.of();
  }

  private Reasoner(LmConfig config, TextTokenizer tokenizer, Device device) {
    if (config.vocab() != tokenizer.vocabSize()) {
      throw new IllegalArgumentException(
          "llm.vocab "
              + config.vocab()
              + " does not match the tokenizer's "
              + tokenizer.vocabSize()
              + " words");
    }
    this.tokenizer = tokenizer;
    this.format = null;
    this.ownsManager = true;
    this.manager = NDManager.newBaseManager(device, Engines.pytorch().getEngineName());
    this.lm = new DecoderLm(config);
    lm.initialize(manager, DataType.FLOAT32, new Shape(1, 1, config.dim()));
    Map<String, Parameter> named = new LinkedHashMap<>();
    lm.collect("llm", named);
    this.parameters = Collections.unmodifiableMap(named);
  }

  /** A new model with random weights drawn from {@code seed}. */
  public static Reasoner create(
      LmConfig config, TextTokenizer tokenizer, long seed, Device device) {
    Engines.pytorch().setRandomSeed((int) seed);
    return new Reasoner(config, tokenizer, device);
  }

  /** Loads a checkpoint folder (see the class comment). */
  public static Reasoner load(Path dir, Device device) throws IOException {
    LmConfig config = mapper().readValue(dir.resolve(CONFIG_FILE).toFile(), LmConfig.class);
    TextTokenizer tokenizer = TextTokenizer.load(dir.resolve(TOKENIZER_FILE));
    Reasoner r = new Reasoner(config, tokenizer, device);
    try {
      Checkpoints.load(dir.resolve(WEIGHTS_FILE), r.parameters, r.manager);
      return r;
    } catch (IOException | RuntimeException e) {
      r.close();
      throw e;
    }
  }

  /** Writes the config, the weights and the tokenizer into {@code dir}. */
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve(CONFIG_FILE),
        mapper().writerWithDefaultPrettyPrinter().writeValueAsString(lm.config()));
    Checkpoints.save(dir.resolve(WEIGHTS_FILE), parameters, manager);
    Path target = dir.resolve(TOKENIZER_FILE);
    if (!Files.exists(target) || !Files.isSameFile(tokenizer.file(), target)) {
      Files.copy(tokenizer.file(), target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static ObjectMapper mapper() {
    return new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  }

  /** A prompt for a question about frames (their tokens already cut to m). */
  public Prompt prompt(
      String id, List<VisualTokens> frames, String question, Sampling sampling, Object context) {
    if (frames.size() > lm.config().maxFrames()) {
      throw new IllegalArgumentException(
          "prompt "
              + id
              + ": "
              + frames.size()
              + " frames, the model takes at most "
              + lm.config().maxFrames());
    }
    return format != null
        ? format.prompt(id, frames, question, sampling, context)
        : new Prompt(id, frames, tokenizer.encode(question), sampling, context);
  }

  /**
   * The prompt's input embeddings, (L, D), in {@code scope}: each frame's tokens plus its
   * frame-index embedding, then the separator and the question's token embeddings.
   */
  public NDArray embed(ParameterStore ps, NDManager scope, Prompt prompt, boolean training) {
    if (format != null) {
      return format.embed(ps, scope, lm, prompt);
    }
    NDList parts = new NDList();
    for (int t = 0; t < prompt.frames().size(); t++) {
      NDArray frame = prompt.frames().get(t).toNDArray(scope); // (m, D)
      parts.add(frame.add(lm.frameIndex(ps, scope, t, training))); // (m, D)
    }
    long[] text = new long[prompt.questionIds().length + 1];
    text[0] = tokenizer.sep();
    System.arraycopy(prompt.questionIds(), 0, text, 1, prompt.questionIds().length);
    parts.add(lm.embedTokens(ps, scope, new long[][] {text}, training).squeeze(0)); // (1 + q, D)
    return NDArrays.concat(parts, 0); // (L, D)
  }

  /** Generates answers for these prompts as one batch, to the end of the longest. */
  public List<Completion> generate(List<Prompt> prompts) {
    List<Completion> done = new ArrayList<>();
    try (DecodeBatch batch = newBatch()) {
      done.addAll(batch.admit(prompts));
      while (batch.active() > 0) {
        done.addAll(batch.step());
      }
    }
    return done;
  }

  /** A running batch that prompts can join and leave between decode steps. */
  public DecodeBatch newBatch() {
    return new DecodeBatch(this);
  }

  @Override
  public RunningBatch open() {
    return newBatch();
  }

  /** Padded positions per prefill chunk (see {@link DecodeBatch#admit}). */
  public int prefillChunkTokens() {
    return prefillChunkTokens;
  }

  public void setPrefillChunkTokens(int tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException(
          "reasoner.prefillChunkTokens: must be >= 1, got " + tokens);
    }
    this.prefillChunkTokens = tokens;
  }

  public DecoderLm lm() {
    return lm;
  }

  /** This project's word-level tokenizer; null for a reasoner of another {@link Format}. */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /** The end-of-answer id. */
  public long eos() {
    return format != null ? format.eos() : tokenizer.eos();
  }

  /** Text of generated ids, special tokens left out. */
  public String decode(long[] ids) {
    return format != null ? format.decode(ids) : tokenizer.decode(ids);
  }

  public LmConfig config() {
    return lm.config();
  }

  /** Every parameter by its checkpoint name. */
  public Map<String, Parameter> parameters() {
    return parameters;
  }

  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    if (format != null) {
      format.close();
    }
    if (ownsManager) {
      manager.close();
      tokenizer.close();
    }
  }
}

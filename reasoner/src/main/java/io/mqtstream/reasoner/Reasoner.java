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
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The LLM stage: the tokenizer, the decoder LM and its weights, prompt assembly, and generation. A
 * prompt's input is [frame 1's m tokens + frame-index embedding 1, …, frame T's, the separator, the
 * question], or with the question first ({@link LmConfig.PromptOrder}) [the question, the
 * separator, the frames' tokens, the separator]; the answer is generated after it, token by token
 * with a KV cache.
 *
 * <p>Checkpoints are a folder: {@code llm.json} ({@link LmConfig}), {@code llm.safetensors} (tensor
 * names {@code llm.embed_tokens.weight}, {@code llm.layers.{i}.attn.q_proj.weight}, …) and {@code
 * tokenizer.json}.
 */
public final class Reasoner implements RunningBatch.Factory, AutoCloseable {
  public static final String CONFIG_FILE = "llm.json";
  public static final String WEIGHTS_FILE = "llm.safetensors";
  public static final String TOKENIZER_FILE = "tokenizer.json";

  /** The prefix of the LM's weights in {@code llm.safetensors}. */
  private static final String PREFIX = "llm";

  /**
   * The token-index embedding's name in {@code llm.safetensors} ({@link LmConfig#tokenIndex()}).
   */
  private static final String TOKEN_INDEX = PREFIX + "." + DecoderLm.TOKEN_INDEX_WEIGHT;

  /** The frame-difference map's name there ({@link LmConfig#frameDifference()}). */
  private static final String FRAME_DIFFERENCE = PREFIX + "." + DecoderLm.FRAME_DIFFERENCE_WEIGHT;

  /** The budget embedding's name there ({@link LmConfig#budget()}). */
  public static final String BUDGET = PREFIX + "." + DecoderLm.BUDGET_WEIGHT;

  /** Whether {@code name} is one norm's per-budget gains ({@link LmConfig#normBudgets()}). */
  public static boolean isNormBudgetGain(String name) {
    return name.startsWith(PREFIX + ".") && name.endsWith("." + NormLayer.BUDGET_WEIGHT);
  }

  /**
   * Whether {@code name} is one layer's per-budget adapter maps ({@link LmConfig#adapterRank()}).
   */
  public static boolean isBudgetAdapter(String name) {
    return name.startsWith(PREFIX + ".")
        && (name.endsWith(".mlp." + DecoderLayer.ADAPTER_DOWN)
            || name.endsWith(".mlp." + DecoderLayer.ADAPTER_UP));
  }

  /**
   * Whether {@code name} is one projection's per-budget LoRA maps ({@link LmConfig#loraRank()}).
   */
  public static boolean isBudgetLora(String name) {
    return name.startsWith(PREFIX + ".")
        && (name.endsWith("." + DecoderLayer.LORA_A) || name.endsWith("." + DecoderLayer.LORA_B));
  }

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
    lm.collect(PREFIX, named);
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
    return load(dir, readConfig(dir), device);
  }

  /** A checkpoint folder's {@code llm.json}. */
  public static LmConfig readConfig(Path dir) throws IOException {
    return mapper().readValue(dir.resolve(CONFIG_FILE).toFile(), LmConfig.class);
  }

  /**
   * Loads a checkpoint folder's weights and tokenizer into a model of {@code config} instead of the
   * folder's own {@code llm.json} (a training run resumed before its LM has trained may change the
   * prompt order); the weights must fit its shapes.
   */
  public static Reasoner load(Path dir, LmConfig config, Device device) throws IOException {
    return load(dir, config, device, name -> false);
  }

  /**
   * A model of {@code config} with the folder's tokenizer and the folder's weights for every
   * parameter except the {@code added} ones, which keep their initial values.
   */
  private static Reasoner load(Path dir, LmConfig config, Device device, Predicate<String> added)
      throws IOException {
    TextTokenizer tokenizer = TextTokenizer.load(dir.resolve(TOKENIZER_FILE));
    Reasoner r = new Reasoner(config, tokenizer, device);
    try {
      Map<String, Parameter> saved = new LinkedHashMap<>(r.parameters);
      saved.keySet().removeIf(added);
      Checkpoints.load(dir.resolve(WEIGHTS_FILE), saved, r.manager);
      return r;
    } catch (IOException | RuntimeException e) {
      r.close();
      throw e;
    }
  }

  /**
   * Loads a checkpoint folder into a larger model, {@code config} with more layers than the
   * folder's, or with a token-index embedding, a frame-difference map, a budget embedding,
   * switchable norms, per-budget adapters or per-budget LoRA the folder lacks: every weight the
   * folder has is the folder's; each layer added on top starts as the identity, its attention and
   * MLP output projections zero (LLaMA Pro's block expansion, Wu et al. 2024); an added token-index
   * or budget embedding, frame-difference map or set of per-budget norm gains starts at zero, and
   * added adapters and LoRA maps keep their initial values: up and B maps zero, down and A maps
   * random (LoRA's start, so that the zero maps learn). So the larger model answers exactly as the
   * folder's until training moves them.
   */
  public static Reasoner loadExpanded(Path dir, LmConfig config, Device device) throws IOException {
    LmConfig folder = readConfig(dir);
    int saved = folder.layers();
    boolean newIndex = folder.tokenIndex() == 0 && config.tokenIndex() > 0;
    boolean newDifference = !folder.frameDifference() && config.frameDifference();
    boolean newBudget = folder.budget() == 0 && config.budget() > 0;
    boolean newNorms = folder.normBudgets().isEmpty() && !config.normBudgets().isEmpty();
    boolean newAdapters = folder.adapterRank() == 0 && config.adapterRank() > 0;
    boolean newLora = folder.loraRank() == 0 && config.loraRank() > 0;
    boolean grows = newIndex || newDifference || newBudget || newNorms || newAdapters || newLora;
    if (config.layers() < saved || (config.layers() == saved && !grows)) {
      throw new IllegalArgumentException(
          "llm.layers: "
              + config.layers()
              + " does not expand the "
              + saved
              + " layers of "
              + dir
              + ", nor does llm.tokenIndex, llm.frameDifference, llm.budget, llm.normBudgets,"
              + " llm.adapterRank or llm.loraRank add a map it lacks");
    }
    Predicate<String> fromZero =
        name ->
            (newIndex && name.equals(TOKEN_INDEX))
                || (newDifference && name.equals(FRAME_DIFFERENCE))
                || (newBudget && name.equals(BUDGET))
                || (newNorms && isNormBudgetGain(name));
    Predicate<String> added =
        name ->
            addedLayer(name, saved)
                || fromZero.test(name)
                || (newAdapters && isBudgetAdapter(name))
                || (newLora && isBudgetLora(name));
    Reasoner r = load(dir, config, device, added);
    r.parameters.forEach(
        (name, p) -> {
          boolean output =
              name.endsWith(".attn.o_proj.weight") || name.endsWith(".mlp.down_proj.weight");
          if (added.test(name) && (output || fromZero.test(name))) {
            p.getArray().subi(p.getArray()); // +0 everywhere (x * 0 would leave -0)
          }
        });
    return r;
  }

  /**
   * This model with a larger vocabulary: {@code tokenizerJson}, a copy of its tokenizer with tokens
   * added after its ids ({@link WordVocabulary#withPhrases}). Every weight is this model's; the
   * embedding row of each added token (and its output row when untied) starts as the mean of the
   * rows of the tokens this model's tokenizer reads its text as, so "red circle" as one token
   * starts as the mean of "red" and "circle". This model is left as it was; the caller closes both.
   */
  public Reasoner withTokenizer(Path tokenizerJson) throws IOException {
    if (tokenizer == null) {
      throw new IllegalStateException("a model of another prompt format keeps its own tokenizer");
    }
    TextTokenizer grown = TextTokenizer.load(tokenizerJson);
    int old = lm.config().vocab();
    if (grown.vocabSize() <= old) {
      grown.close();
      throw new IllegalArgumentException(
          tokenizerJson + ": " + grown.vocabSize() + " tokens, not more than the model's " + old);
    }
    Map<String, Integer> words = WordVocabulary.read(tokenizerJson);
    for (Map.Entry<String, Integer> w : WordVocabulary.read(tokenizer.file()).entrySet()) {
      if (!w.getValue().equals(words.get(w.getKey()))) {
        grown.close();
        throw new IllegalArgumentException(
            tokenizerJson
                + ": \""
                + w.getKey()
                + "\" is not id "
                + w.getValue()
                + " as in the model's");
      }
    }
    String[] text = new String[grown.vocabSize()];
    words.forEach((w, id) -> text[id] = w);
    List<long[]> reads = new ArrayList<>(); // per added token, its ids in this model's tokenizer
    for (int id = old; id < text.length; id++) {
      reads.add(tokenizer.encode(text[id]));
    }
    Reasoner r = new Reasoner(lm.config().withVocab(grown.vocabSize()), grown, manager.getDevice());
    try {
      parameters.forEach(
          (name, p) -> {
            float[] values = p.getArray().toFloatArray();
            boolean vocabRows =
                name.equals(PREFIX + ".embed_tokens.weight")
                    || name.equals(PREFIX + ".lm_head.weight");
            if (vocabRows) {
              int d = lm.config().dim();
              float[] rows = Arrays.copyOf(values, grown.vocabSize() * d);
              for (int k = 0; k < reads.size(); k++) {
                for (long id : reads.get(k)) {
                  for (int j = 0; j < d; j++) {
                    rows[(old + k) * d + j] += values[(int) id * d + j] / reads.get(k).length;
                  }
                }
              }
              values = rows;
            }
            r.parameters.get(name).getArray().set(values);
          });
      return r;
    } catch (RuntimeException e) {
      r.close();
      throw e;
    }
  }

  /** Whether a parameter belongs to a layer at or above {@code from}, one the checkpoint lacks. */
  private static boolean addedLayer(String name, int from) {
    String prefix = PREFIX + ".layers.";
    if (!name.startsWith(prefix)) {
      return false;
    }
    int end = name.indexOf('.', prefix.length());
    return Integer.parseInt(name.substring(prefix.length(), end)) >= from;
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
    if (format != null) {
      return format.prompt(id, frames, question, sampling, context);
    }
    int separators = lm.config().promptOrder() == LmConfig.PromptOrder.QUESTION_FIRST ? 2 : 1;
    return new Prompt(id, frames, tokenizer.encode(question), sampling, context, separators);
  }

  /**
   * The prompt's input embeddings, (L, D), in {@code scope}: each frame's tokens plus its
   * frame-index embedding, the separator and the question's token embeddings, in the model's {@link
   * LmConfig.PromptOrder}.
   */
  public NDArray embed(ParameterStore ps, NDManager scope, Prompt prompt, boolean training) {
    if (format != null) {
      return format.embed(ps, scope, lm, prompt);
    }
    List<NDArray> frames = new ArrayList<>();
    for (VisualTokens tokens : prompt.frames()) {
      frames.add(tokens.toNDArray(scope)); // (m, D)
    }
    return embed(ps, scope, frames, prompt.questionIds(), training);
  }

  /**
   * This project's prompt layout over frames' tokens already on the device (training passes the
   * encoder's output, gradients and all): frames first, [frame 1 + index 1, …, frame T + index T,
   * sep, question]; question first, [question, sep, frame 1 + index 1, …, frame T + index T, sep].
   * With a token-index embedding, token k of every frame also gets row k of it; with the
   * frame-difference map, each frame after the first also gets {@link DecoderLm#frameDifference} of
   * its change since the frame before; with a budget embedding, each of a frame's m tokens also
   * gets its row for m. The answer's first token is predicted at the last position in both.
   *
   * @param frames per frame its (m, D) tokens
   * @return (L, D), L = Σ m + question + 1 (frames first) or + 2 (question first)
   */
  public NDArray embed(
      ParameterStore ps, NDManager scope, List<NDArray> frames, long[] question, boolean training) {
    NDList parts = new NDList();
    // the token-index rows (m, D) and the budget row (D), read again only when m changes (frames of
    // a prompt share it)
    int readFor = -1;
    NDArray index = null;
    NDArray budget = null;
    for (int t = 0; t < frames.size(); t++) {
      NDArray frame = frames.get(t).add(lm.frameIndex(ps, scope, t, training)); // (m, D)
      if (lm.config().frameDifference() && t > 0) {
        frame =
            frame.add(lm.frameDifference(ps, scope, frames.get(t), frames.get(t - 1), training));
      }
      int m = (int) frame.getShape().get(0);
      if (m != readFor) {
        readFor = m;
        index = lm.config().tokenIndex() > 0 ? lm.tokenIndex(ps, scope, m, training) : null;
        budget = lm.config().budget() > 0 ? lm.budget(ps, scope, m, training) : null;
      }
      if (index != null) {
        frame = frame.add(index);
      }
      if (budget != null) {
        frame = frame.add(budget);
      }
      parts.add(frame);
    }
    long sep = tokenizer.sep();
    if (lm.config().promptOrder() == LmConfig.PromptOrder.QUESTION_FIRST) {
      long[] before = java.util.Arrays.copyOf(question, question.length + 1);
      before[question.length] = sep;
      parts.add(
          0, lm.embedTokens(ps, scope, new long[][] {before}, training).squeeze(0)); // (q+1, D)
      parts.add(lm.embedTokens(ps, scope, new long[][] {{sep}}, training).squeeze(0)); // (1, D)
    } else {
      long[] text = new long[question.length + 1];
      text[0] = sep;
      System.arraycopy(question, 0, text, 1, question.length);
      parts.add(lm.embedTokens(ps, scope, new long[][] {text}, training).squeeze(0)); // (1 + q, D)
    }
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

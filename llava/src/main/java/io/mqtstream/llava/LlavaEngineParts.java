package io.mqtstream.llava;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.FrameEncoder;
import io.mqtstream.encoder.FramePreprocessor;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.nn.Tensors;
import io.mqtstream.reasoner.DecoderLm;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import io.mqtstream.wire.FrameRecord;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An MQT-LLaVA checkpoint as the engine's two stages: a {@link FrameEncoder} (frames → CLIP
 * processor → tower → the MQT's M tokens) and a {@link Reasoner.Format} (the Vicuna v1 prompt with
 * a window's visual tokens at {@code <image>}, one frame after the other; {@code </s>} ends an
 * answer), so the engine's batching, token budget and Kafka plumbing run a real checkpoint
 * unchanged.
 */
final class LlavaEngineParts {
  private LlavaEngineParts() {}

  /** The vision side: pictures as the CLIP processor's floats, M tokens each. */
  static final class Encoder implements FrameEncoder {
    private final MqtLlava model;
    private final FramePreprocessor decoder;
    private final int side;

    Encoder(MqtLlava model) {
      this.model = model;
      this.side = model.visionConfig().imageSize();
      this.decoder = new FramePreprocessor(side, new float[] {0, 0, 0}, new float[] {1, 1, 1});
    }

    @Override
    public byte[] pixels(FrameRecord frame) {
      float[] floats = model.pixels(decoder.picture(frame)); // (3, S, S)
      ByteBuffer out =
          ByteBuffer.allocate(floats.length * Float.BYTES).order(ByteOrder.nativeOrder());
      out.asFloatBuffer().put(floats);
      return out.array();
    }

    @Override
    public List<VisualTokens> encodeDecoded(List<byte[]> pictures) {
      if (pictures.isEmpty()) {
        return List.of();
      }
      try (NDManager scope = model.newScope()) {
        int per = 3 * side * side;
        ByteBuffer all =
            ByteBuffer.allocateDirect(pictures.size() * per * Float.BYTES)
                .order(ByteOrder.nativeOrder());
        pictures.forEach(all::put);
        NDArray pixels =
            Tensors.create(
                scope, all.flip(), new ai.djl.ndarray.types.Shape(pictures.size(), 3, side, side));
        return VisualTokens.batch(model.visualTokens(model.features(pixels), model.maxTokens()));
      }
    }

    @Override
    public int maxTokens() {
      return model.maxTokens();
    }

    @Override
    public byte[] blank() {
      return new byte[3 * side * side * Float.BYTES];
    }

    @Override
    public void close() {
      model.close();
    }
  }

  /**
   * LLaVA's prompt: the ids of the Vicuna v1 prompt without the image marker (its text before
   * {@code <image>} is the same for every question, so where the frames go is that prefix's
   * length).
   */
  static final class Format implements Reasoner.Format {
    private final PromptTokenizer tokenizer;
    private final long eos;
    private final int prefix;

    Format(PromptTokenizer tokenizer, long eos) {
      this.tokenizer = tokenizer;
      this.eos = eos;
      long[] probe = tokenizer.ids(PromptTokenizer.vicuna("?"));
      int at = 0;
      while (probe[at] != PromptTokenizer.IMAGE) {
        at++;
      }
      this.prefix = at;
    }

    /**
     * Text ids by question: standing questions are asked of every frame, and the template's system
     * prompt need not be tokenized again each time. Bounded: cleared past 256 questions.
     */
    private final Map<String, long[]> byQuestion = new ConcurrentHashMap<>();

    @Override
    public Prompt prompt(
        String id, List<VisualTokens> frames, String question, Sampling s, Object context) {
      long[] text = byQuestion.get(question);
      if (text == null) {
        text = textIds(id, question);
        if (byQuestion.size() >= 256) {
          byQuestion.clear();
        }
        byQuestion.put(question, text);
      }
      return new Prompt(id, frames, text, s, context, 0);
    }

    /** The prompt's ids without the image marker (the frames go at {@code prefix}). */
    private long[] textIds(String id, String question) {
      long[] ids = tokenizer.ids(PromptTokenizer.vicuna(question));
      if (ids.length <= prefix || ids[prefix] != PromptTokenizer.IMAGE) {
        throw new IllegalArgumentException("prompt " + id + ": the question changed the template");
      }
      long[] text = new long[ids.length - 1];
      System.arraycopy(ids, 0, text, 0, prefix);
      System.arraycopy(ids, prefix + 1, text, prefix, ids.length - prefix - 1);
      return text;
    }

    @Override
    public NDArray embed(ParameterStore ps, NDManager scope, DecoderLm lm, Prompt prompt) {
      long[] ids = prompt.questionIds();
      NDList parts = new NDList();
      NDArray before =
          lm.embedTokens(ps, scope, new long[][] {Arrays.copyOfRange(ids, 0, prefix)}, false)
              .squeeze(0); // (prefix, D)
      parts.add(before);
      for (VisualTokens frame : prompt.frames()) {
        parts.add(frame.toNDArray(scope).toType(before.getDataType(), false)); // (m, D), in order
      }
      parts.add(
          lm.embedTokens(
                  ps, scope, new long[][] {Arrays.copyOfRange(ids, prefix, ids.length)}, false)
              .squeeze(0)); // (suffix, D)
      return NDArrays.concat(parts, 0); // (L, D)
    }

    @Override
    public long eos() {
      return eos;
    }

    @Override
    public String decode(long[] ids) {
      return tokenizer.decode(ids);
    }

    @Override
    public void close() {}
  }
}

package io.mqtstream.reasoner;

import static io.mqtstream.reasoner.ReasonerTestSupport.frames;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.nn.Tensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ReasonerTest {
  private static final float TOL = 1e-4f;

  private static List<Prompt> mixedPrompts(Reasoner r, int maxNew) {
    Sampling s = Sampling.greedy(maxNew).withLogits();
    return List.of(
        r.prompt("a", frames(1, 2, 32, 1), "what colour is the circle ?", s, null),
        r.prompt("b", frames(2, 4, 32, 2), "how many shapes ?", s, null),
        r.prompt(
            "c", frames(1, 8, 32, 3), "is there a red square left of the blue triangle ?", s, null),
        r.prompt("d", frames(3, 1, 32, 4), "two", s, null));
  }

  @ParameterizedTest
  @CsvSource({"RMS,SWIGLU,ROPE", "LAYER,GELU,LEARNED"})
  void batchedGenerationEqualsOneAtATime(
      LmConfig.Norm norm, LmConfig.Mlp mlp, LmConfig.Positions pos, @TempDir Path dir)
      throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir, norm, mlp, pos)) {
      List<Prompt> prompts = mixedPrompts(r, 6);
      Map<String, Completion> batched = byId(r.generate(prompts));
      assertThat(batched).hasSize(4);
      for (Prompt p : prompts) {
        Completion alone = r.generate(List.of(p)).get(0);
        Completion inBatch = batched.get(p.id());
        assertThat(inBatch.tokens()).as(p.id()).containsExactly(alone.tokens());
        assertThat(inBatch.finish()).isEqualTo(alone.finish());
        assertSameLogits(inBatch.stepLogits(), alone.stepLogits());
      }
    }
  }

  @Test
  void paddingNextToAMuchLongerPromptChangesNothing(@TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir)) {
      Sampling s = Sampling.greedy(4).withLogits();
      Prompt shortOne = r.prompt("short", frames(1, 1, 32, 5), "yes", s, null);
      Prompt longOne =
          r.prompt("long", frames(4, 8, 32, 6), "how many shapes are there ?", s, null);
      assertThat(longOne.length() - shortOne.length()).isGreaterThan(30);
      Completion alone = r.generate(List.of(shortOne)).get(0);
      Completion padded = byId(r.generate(List.of(longOne, shortOne))).get("short");
      assertThat(padded.tokens()).containsExactly(alone.tokens());
      assertSameLogits(padded.stepLogits(), alone.stepLogits());
    }
  }

  @Test
  void decodingWithTheKvCacheEqualsRecomputingTheWholeSequence(@TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir)) {
      Prompt p =
          r.prompt(
              "p",
              frames(2, 4, 32, 9),
              "what colour is the square ?",
              Sampling.greedy(6).withLogits(),
              null);
      Completion c = r.generate(List.of(p)).get(0);
      assertThat(c.stepLogits()).isNotEmpty();
      for (int k = 0; k < c.stepLogits().size(); k++) {
        float[] recomputed = lastLogitsWithoutCache(r, p, Arrays.copyOf(c.tokens(), k));
        assertThat(maxDiff(recomputed, c.stepLogits().get(k))).as("step %d", k).isLessThan(TOL);
      }
    }
  }

  @Test
  void djlsBlockForwardScoresATextAsTokenByTokenDecodingWithTheCacheDoes(@TempDir Path dir)
      throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir);
        NDManager m = r.manager().newSubManager()) {
      ParameterStore ps = new ParameterStore(m, false);
      long[] ids = r.tokenizer().encode("how many shapes are there ?");
      int n = ids.length;
      NDArray idArray = m.create(ids).reshape(1, n);
      float[] whole = Tensors.toFloats(r.lm().forward(ps, new NDList(idArray), false).head());
      int vocab = r.config().vocab();
      assertThat(whole).hasSize(n * vocab);
      KvCache cache = null;
      for (int i = 0; i < n; i++) {
        NDArray x = r.lm().embedTokens(ps, m, new long[][] {{ids[i]}}, false); // (1, 1, D)
        DecoderLm.Forward step =
            r.lm().forward(ps, x, new long[][] {{i}}, new float[1][1], cache, true, false);
        cache = step.cache();
        float[] expected = java.util.Arrays.copyOfRange(whole, i * vocab, (i + 1) * vocab);
        assertThat(maxDiff(Tensors.toFloats(step.logits()), expected))
            .as("position %d", i)
            .isLessThan(TOL);
      }
    }
  }

  /** The whole prompt plus the first generated tokens in one forward pass, no cache. */
  private static float[] lastLogitsWithoutCache(Reasoner r, Prompt p, long[] generated) {
    try (NDManager m = r.manager().newSubManager()) {
      ParameterStore ps = new ParameterStore(m, false);
      NDArray prompt = r.embed(ps, m, p, false); // (L, D)
      NDArray x = prompt;
      if (generated.length > 0) {
        NDArray gen = r.lm().embedTokens(ps, m, new long[][] {generated}, false).squeeze(0);
        x = NDArrays.concat(new NDList(prompt, gen), 0);
      }
      int n = (int) x.getShape().get(0);
      long[][] pos = new long[1][n];
      for (int i = 0; i < n; i++) {
        pos[0][i] = i;
      }
      DecoderLm.Forward f =
          r.lm().forward(ps, x.expandDims(0), pos, new float[1][n], null, true, false);
      return Tensors.toFloats(f.logits());
    }
  }

  /**
   * The two prompt orders under causal attention: with the frames first a frame token's output
   * cannot depend on the question; with the question first every frame token's does. Two questions
   * of the same length that differ in one word, the same frames.
   */
  @ParameterizedTest
  @CsvSource({"FRAMES_FIRST,1", "QUESTION_FIRST,2"})
  void withTheQuestionFirstEveryFrameTokenReadsTheQuestion(
      LmConfig.PromptOrder order, int separators, @TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir, order)) {
      List<VisualTokens> clip = frames(2, 3, 32, 11);
      Sampling s = Sampling.greedy(1);
      Prompt circle = r.prompt("c", clip, "what colour is the circle ?", s, null);
      Prompt square = r.prompt("s", clip, "what colour is the square ?", s, null);
      int question = circle.questionIds().length;
      assertThat(circle.length()).isEqualTo(2 * 3 + question + separators);
      int firstFrameToken = order == LmConfig.PromptOrder.QUESTION_FIRST ? question + 1 : 0;
      float[][] a = allLogits(r, circle);
      float[][] b = allLogits(r, square);
      for (int k = 0; k < 6; k++) {
        float diff = maxDiff(a[firstFrameToken + k], b[firstFrameToken + k]);
        if (order == LmConfig.PromptOrder.QUESTION_FIRST) {
          assertThat(diff).as("frame token %d", k).isGreaterThan(1e-3f);
        } else {
          assertThat(diff).as("frame token %d", k).isLessThan(TOL);
        }
      }
      assertThat(maxDiff(a[a.length - 1], b[b.length - 1])).isGreaterThan(1e-3f);
    }
  }

  /** Batching, padding and the KV cache change nothing with the question first either. */
  @Test
  void withTheQuestionFirstBatchingAndTheCacheChangeNothing(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Files.createDirectories(dir.resolve("tok"));
    List<Completion> batched;
    try (Reasoner r =
        ReasonerTestSupport.reasoner(dir.resolve("tok"), LmConfig.PromptOrder.QUESTION_FIRST)) {
      List<Prompt> prompts = mixedPrompts(r, 6);
      batched = r.generate(prompts);
      Map<String, Completion> byId = byId(batched);
      for (Prompt p : prompts) {
        Completion alone = r.generate(List.of(p)).get(0);
        assertThat(byId.get(p.id()).tokens()).as(p.id()).containsExactly(alone.tokens());
        assertSameLogits(byId.get(p.id()).stepLogits(), alone.stepLogits());
        for (int k = 0; k < alone.stepLogits().size(); k++) {
          float[] recomputed = lastLogitsWithoutCache(r, p, Arrays.copyOf(alone.tokens(), k));
          assertThat(maxDiff(recomputed, alone.stepLogits().get(k)))
              .as("%s step %d", p.id(), k)
              .isLessThan(TOL);
        }
      }
      r.save(ckpt);
    }
    try (Reasoner loaded = Reasoner.load(ckpt, Device.cpu())) {
      assertThat(loaded.config().promptOrder()).isEqualTo(LmConfig.PromptOrder.QUESTION_FIRST);
      Map<String, Completion> after = byId(loaded.generate(mixedPrompts(loaded, 6)));
      for (Completion c : batched) {
        assertSameLogits(after.get(c.prompt().id()).stepLogits(), c.stepLogits());
      }
    }
    // an llm.json written before the key existed (mqt-tiny v1–v3) reads as frames first
    Files.writeString(
        ckpt.resolve(Reasoner.CONFIG_FILE),
        Files.readString(ckpt.resolve(Reasoner.CONFIG_FILE))
            .replaceAll(",\\s*\"promptOrder\"\\s*:\\s*\"QUESTION_FIRST\"", ""));
    assertThat(Files.readString(ckpt.resolve(Reasoner.CONFIG_FILE))).doesNotContain("promptOrder");
    try (Reasoner loaded = Reasoner.load(ckpt, Device.cpu())) {
      assertThat(loaded.config().promptOrder()).isEqualTo(LmConfig.PromptOrder.FRAMES_FIRST);
    }
  }

  /** Every position's logits of a prompt in one forward pass: [L][V]. */
  private static float[][] allLogits(Reasoner r, Prompt p) {
    try (NDManager m = r.manager().newSubManager()) {
      ParameterStore ps = new ParameterStore(m, false);
      NDArray x = r.embed(ps, m, p, false); // (L, D)
      int n = (int) x.getShape().get(0);
      long[][] pos = new long[1][n];
      for (int i = 0; i < n; i++) {
        pos[0][i] = i;
      }
      float[] all =
          Tensors.toFloats(
              r.lm()
                  .forward(ps, x.expandDims(0), pos, new float[1][n], null, false, false)
                  .logits());
      int v = all.length / n;
      float[][] out = new float[n][];
      for (int i = 0; i < n; i++) {
        out[i] = java.util.Arrays.copyOfRange(all, i * v, (i + 1) * v);
      }
      return out;
    }
  }

  @Test
  void maxNewTokensAndStopTokensAreRespected(@TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir)) {
      List<?> framesOf = frames(1, 4, 32, 11);
      @SuppressWarnings("unchecked")
      Prompt three =
          r.prompt(
              "p",
              (List<io.mqtstream.encoder.VisualTokens>) framesOf,
              "how many ?",
              Sampling.greedy(3),
              null);
      Completion c = r.generate(List.of(three)).get(0);
      if (c.finish() == Completion.Finish.LENGTH) {
        assertThat(c.tokens()).hasSize(3);
      } else {
        assertThat(c.tokens().length).isLessThan(3);
      }
      Completion longer = r.generate(List.of(withSampling(r, three, Sampling.greedy(8)))).get(0);
      assertThat(longer.tokens().length).isGreaterThanOrEqualTo(2);
      // Stop at the first token that was not generated before it: the answer ends just before it.
      long[] t = longer.tokens();
      int at = 1;
      while (at < t.length && contains(t, at, t[at])) {
        at++;
      }
      if (at < t.length) {
        Completion stopped =
            r.generate(List.of(withSampling(r, three, Sampling.greedy(8).withStopTokens(t[at]))))
                .get(0);
        assertThat(stopped.finish()).isEqualTo(Completion.Finish.STOP);
        assertThat(stopped.tokens()).containsExactly(Arrays.copyOf(t, at));
      }
    }
  }

  private static boolean contains(long[] t, int before, long v) {
    for (int i = 0; i < before; i++) {
      if (t[i] == v) {
        return true;
      }
    }
    return false;
  }

  private static Prompt withSampling(Reasoner r, Prompt p, Sampling s) {
    return new Prompt(p.id(), p.frames(), p.questionIds(), s, p.context(), p.separators());
  }

  @Test
  void aPromptThatJoinsARunningBatchGetsTheSameAnswerAsAlone(@TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir)) {
      Sampling s = Sampling.greedy(10).withLogits();
      Prompt first =
          r.prompt("first", frames(2, 8, 32, 21), "how many shapes are there ?", s, null);
      Prompt late = r.prompt("late", frames(1, 2, 32, 22), "what colour ?", s, null);
      Completion lateAlone = r.generate(List.of(late)).get(0);
      Completion firstAlone = r.generate(List.of(first)).get(0);

      List<Completion> done = new java.util.ArrayList<>();
      try (DecodeBatch batch = r.newBatch()) {
        done.addAll(batch.admit(List.of(first)));
        for (int i = 0; i < 3 && batch.active() > 0; i++) {
          done.addAll(batch.step());
        }
        done.addAll(batch.admit(List.of(late)));
        while (batch.active() > 0) {
          done.addAll(batch.step());
        }
      }
      Map<String, Completion> byId = byId(done);
      assertThat(byId.get("late").tokens()).containsExactly(lateAlone.tokens());
      assertSameLogits(byId.get("late").stepLogits(), lateAlone.stepLogits());
      assertThat(byId.get("first").tokens()).containsExactly(firstAlone.tokens());
      assertSameLogits(byId.get("first").stepLogits(), firstAlone.stepLogits());
    }
  }

  @Test
  void saveThenLoadGivesTheSameAnswers(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    try (Reasoner loaded = Reasoner.load(ckpt, Device.cpu())) {
      assertAnswersAs(saved.answers(), loaded);
    }
    Files.writeString(
        ckpt.resolve(Reasoner.CONFIG_FILE),
        Files.readString(ckpt.resolve(Reasoner.CONFIG_FILE))
            .replace("\"layers\" : 2", "\"layers\" : 3"));
    assertThatThrownBy(() -> Reasoner.load(ckpt, Device.cpu()).close())
        .hasMessageContaining("missing tensor llm.layers.2.");
  }

  /**
   * Block expansion: a model loaded with a layer more than its checkpoint answers exactly as the
   * checkpoint's did (the added layer starts as the identity), has that layer's other weights
   * initialised, and saves as a model of the new depth; a depth that does not grow is refused.
   */
  @Test
  void aModelExpandedByALayerAnswersAsBeforeUntilItTrains(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    LmConfig two = saved.config();
    try (Reasoner deeper = Reasoner.loadExpanded(ckpt, two.withLayers(3), Device.cpu())) {
      assertThat(deeper.parameters()).containsKey("llm.layers.2.attn.q_proj.weight");
      assertThat(
              deeper
                  .parameters()
                  .get("llm.layers.2.mlp.up_proj.weight")
                  .getArray()
                  .abs()
                  .sum()
                  .getFloat())
          .isGreaterThan(0f);
      assertAnswersAs(saved.answers(), deeper);
      deeper.save(dir.resolve("deeper"));
    }
    assertThat(Reasoner.readConfig(dir.resolve("deeper")).layers()).isEqualTo(3);
    assertThatThrownBy(() -> Reasoner.loadExpanded(ckpt, two, Device.cpu()).close())
        .hasMessageStartingWith("llm.layers: 2 does not expand");
  }

  /**
   * A model that gains a token-index embedding answers exactly as its checkpoint did while the
   * embedding is zero, as it starts; once it holds something the same prompts get other logits, and
   * a saved model keeps it. A frame with more tokens than the embedding has rows is refused, naming
   * the key.
   */
  @Test
  void aModelGainingATokenIndexAnswersAsBeforeUntilItTrains(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    LmConfig plain = saved.config();
    Map<String, Completion> moved;
    try (Reasoner indexed = Reasoner.loadExpanded(ckpt, plain.withTokenIndex(8), Device.cpu())) {
      NDArray table = indexed.parameters().get("llm.embed_token_index.weight").getArray();
      assertThat(table.toFloatArray()).hasSize(8 * 32).containsOnly(0f);
      assertAnswersAs(saved.answers(), indexed);
      java.util.Random random = new java.util.Random(3);
      float[] rows = new float[8 * 32];
      for (int i = 0; i < rows.length; i++) {
        rows[i] = (float) random.nextGaussian();
      }
      table.set(rows);
      moved = byId(indexed.generate(mixedPrompts(indexed, 5)));
      for (Completion c : saved.answers()) {
        assertThat(maxDiff(moved.get(c.prompt().id()).stepLogits().get(0), c.stepLogits().get(0)))
            .as(c.prompt().id())
            .isGreaterThan(100 * TOL);
      }
      indexed.save(dir.resolve("indexed"));
    }
    assertThat(Reasoner.readConfig(dir.resolve("indexed")).tokenIndex()).isEqualTo(8);
    assertLoadsAnswering(dir.resolve("indexed"), moved);
    assertRefusesAFrameOfEight(ckpt, plain.withTokenIndex(4), "llm.tokenIndex");
  }

  /**
   * A model that gains a budget embedding answers exactly as its checkpoint did while the embedding
   * is zero, as it starts. Once row m − 1 alone holds something, exactly the prompts whose frames
   * have m tokens get other logits: the row is chosen by each frame's token count, which is all the
   * engine's budget changes. A saved model keeps it, an {@code llm.json} written before the key
   * existed reads as a model without it, and a frame with more tokens than rows is refused, naming
   * the key.
   */
  @Test
  void aModelGainingABudgetEmbeddingReadsEachBudgetByItsRow(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    LmConfig plain = saved.config();
    Map<String, Integer> tokensPerFrame = Map.of("a", 2, "b", 4, "c", 8, "d", 1);
    java.util.Random random = new java.util.Random(5);
    Map<String, Completion> moved;
    try (Reasoner r = Reasoner.loadExpanded(ckpt, plain.withBudget(8), Device.cpu())) {
      NDArray table = r.parameters().get("llm.embed_budget.weight").getArray();
      assertThat(table.toFloatArray()).hasSize(8 * 32).containsOnly(0f);
      assertAnswersAs(saved.answers(), r);
      for (int m : new int[] {4, 8}) {
        float[] rows = new float[8 * 32];
        for (int j = 0; j < 32; j++) {
          rows[(m - 1) * 32 + j] = (float) random.nextGaussian();
        }
        table.set(rows); // row m - 1 alone
        Map<String, Completion> now = byId(r.generate(mixedPrompts(r, 5)));
        for (Completion c : saved.answers()) {
          String id = c.prompt().id();
          float diff = maxDiff(now.get(id).stepLogits().get(0), c.stepLogits().get(0));
          if (tokensPerFrame.get(id) == m) {
            assertThat(diff).as("%s at row %d", id, m - 1).isGreaterThan(100 * TOL);
          } else {
            assertThat(diff).as("%s at row %d", id, m - 1).isLessThan(TOL);
          }
        }
      }
      moved = byId(r.generate(mixedPrompts(r, 5)));
      r.save(dir.resolve("budgeted"));
    }
    assertThat(Reasoner.readConfig(dir.resolve("budgeted")).budget()).isEqualTo(8);
    assertLoadsAnswering(dir.resolve("budgeted"), moved);
    assertRefusesAFrameOfEight(ckpt, plain.withBudget(4), "llm.budget");
    assertThat(withoutKey(ckpt, saved, "budget", "0").budget()).isZero();
  }

  /**
   * Switchable norms: a model that gains per-budget norm gains answers exactly as its checkpoint
   * did while they are zero, as they start. With the gains of one set moved (here sets m = 1–3, 4–7
   * and 8 on), exactly the prompts whose m falls in that set get other logits, at every decode step
   * and in one batch with prompts of the other sets; and such a prompt gets the logits of a model
   * without switchable norms whose every norm weight γ is γ · (1 + that set's gain). A saved model
   * keeps the gains, and an {@code llm.json} written before the key existed reads as a model
   * without them.
   */
  @Test
  void aModelGainingSwitchableNormsScalesEachPromptsNormsByItsBudgetsGains(@TempDir Path dir)
      throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    LmConfig switchable = saved.config().withNormBudgets(List.of(1, 4, 8));
    Map<String, Integer> setOf = Map.of("a", 0, "b", 1, "c", 2, "d", 0); // m = 2, 4, 8, 1
    java.util.Random random = new java.util.Random(6);
    Map<String, float[]> gainsOfB = new java.util.HashMap<>(); // per norm, set 1's gains
    try (Reasoner r = Reasoner.loadExpanded(ckpt, switchable, Device.cpu())) {
      Map<String, NDArray> gains = parametersWhere(r, Reasoner::isNormBudgetGain);
      assertThat(gains).hasSize(2 * 2 + 1); // two layers' two norms, and the final norm
      gains.values().forEach(g -> assertThat(g.toFloatArray()).hasSize(3 * 32).containsOnly(0f));
      assertAnswersAs(saved.answers(), r);
      for (int set = 0; set < 3; set++) {
        for (Map.Entry<String, NDArray> g : gains.entrySet()) {
          float[] rows = new float[3 * 32];
          for (int j = 0; j < 32; j++) {
            rows[set * 32 + j] = (float) (0.5 * random.nextGaussian());
          }
          g.getValue().set(rows); // this set's row alone
          if (set == 1) {
            gainsOfB.put(g.getKey(), Arrays.copyOfRange(rows, 32, 64));
          }
        }
        assertOnlyTheSetsPromptsChange(saved, r, setOf, set);
        if (set == 1) {
          r.save(dir.resolve("switchable")); // set 1's gains
        }
      }
    }
    Map<String, Completion> moved;
    try (Reasoner r = Reasoner.load(dir.resolve("switchable"), Device.cpu())) {
      assertThat(r.config().normBudgets()).containsExactly(1, 4, 8);
      moved = byId(r.generate(mixedPrompts(r, 5)));
    }
    for (Completion c : saved.answers()) {
      if (!c.prompt().id().equals("b")) {
        assertSameLogits(moved.get(c.prompt().id()).stepLogits(), c.stepLogits());
      }
    }
    try (Reasoner plain = Reasoner.load(ckpt, Device.cpu())) {
      gainsOfB.forEach(
          (gainName, gain) -> {
            String weight = gainName.replace(".budget_weight", ".weight");
            NDArray gamma = plain.parameters().get(weight).getArray();
            float[] scaled = gamma.toFloatArray();
            for (int j = 0; j < scaled.length; j++) {
              scaled[j] *= 1 + gain[j];
            }
            gamma.set(scaled);
          });
      Completion b = byId(plain.generate(mixedPrompts(plain, 5))).get("b");
      assertThat(moved.get("b").tokens()).containsExactly(b.tokens());
      assertSameLogits(moved.get("b").stepLogits(), b.stepLogits());
    }
    assertThat(withoutKey(ckpt, saved, "normBudgets", "\\[ \\]").normBudgets()).isEmpty();
  }

  /**
   * Per-budget adapters and per-budget LoRA: a model that gains them (with switchable norms' sets m
   * = 1–3, 4–7 and 8 on) answers exactly as its checkpoint did while their zero maps (adapters' up,
   * LoRA's B) are zero, as they start. With one set's zero maps moved, exactly the prompts whose m
   * falls in that set get other logits, in one batch with prompts of the other sets. A saved model
   * keeps them, and an {@code llm.json} written before the key existed reads as a model without
   * them.
   */
  @ParameterizedTest
  @ValueSource(strings = {"adapterRank", "loraRank"})
  void aModelGainingPerBudgetMapsChangesOnlyThePromptsOfTheSetWhoseMapsMoved(
      String key, @TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    boolean lora = key.equals("loraRank");
    LmConfig normed = saved.config().withNormBudgets(List.of(1, 4, 8));
    LmConfig adapted = lora ? normed.withLoraRank(2) : normed.withAdapterRank(2);
    java.util.function.Predicate<String> isMap =
        lora ? Reasoner::isBudgetLora : Reasoner::isBudgetAdapter;
    String zeroEnd = lora ? "_b" : "_up";
    int perLayer = lora ? 7 : 1; // LoRA: q, k, v, o, gate, up, down; an adapter: one
    Map<String, Integer> setOf = Map.of("a", 0, "b", 1, "c", 2, "d", 0); // m = 2, 4, 8, 1
    java.util.Random random = new java.util.Random(8);
    Map<String, Completion> movedB = null;
    try (Reasoner r = Reasoner.loadExpanded(ckpt, adapted, Device.cpu())) {
      Map<String, NDArray> maps = parametersWhere(r, isMap);
      maps.forEach((n, a) -> assertThat(a.getShape().get(0)).as(n).isEqualTo(3));
      Map<String, NDArray> zeros =
          parametersWhere(r, n -> maps.containsKey(n) && n.endsWith(zeroEnd));
      maps.forEach(
          (n, a) -> {
            if (!zeros.containsKey(n)) {
              assertThat(a.abs().sum().getFloat()).as("%s, random", n).isPositive();
            }
          });
      assertThat(zeros).hasSize(2 * perLayer); // two layers
      zeros.values().forEach(u -> assertThat(u.toFloatArray()).containsOnly(0f));
      assertAnswersAs(saved.answers(), r);
      for (int set = 0; set < 3; set++) {
        for (NDArray u : zeros.values()) {
          int per = Math.toIntExact(u.size() / 3); // (sets, r, out): one set's map
          float[] values = new float[3 * per];
          for (int j = 0; j < per; j++) {
            values[set * per + j] = (float) random.nextGaussian() * (lora ? 0.3f : 1f);
          }
          u.set(values); // this set's maps alone
        }
        r.lm().weightsChanged(); // written in place, not by a training pass
        Map<String, Completion> now = assertOnlyTheSetsPromptsChange(saved, r, setOf, set);
        if (set == 1) {
          r.save(dir.resolve("adapted")); // set 1's maps
          movedB = now;
        }
      }
    }
    try (Reasoner r = Reasoner.load(dir.resolve("adapted"), Device.cpu())) {
      assertThat(lora ? r.config().loraRank() : r.config().adapterRank()).isEqualTo(2);
      Map<String, Completion> reloaded = byId(r.generate(mixedPrompts(r, 5)));
      for (Completion c : saved.answers()) {
        String id = c.prompt().id();
        Completion expected = id.equals("b") ? movedB.get(id) : c;
        assertThat(reloaded.get(id).tokens()).as(id).containsExactly(expected.tokens());
        assertSameLogits(reloaded.get(id).stepLogits(), expected.stepLogits());
      }
    }
    LmConfig old = withoutKey(ckpt, saved, key, "0");
    assertThat(lora ? old.loraRank() : old.adapterRank()).isZero();
  }

  /**
   * A model that gains a frame-difference map answers exactly as its checkpoint did while the map
   * is zero, as it starts. Once it holds something, prompts of two or more changing frames get
   * other logits, while a prompt of one frame, of a frame shown twice, or of a frame whose tokens
   * grow from m = 2 to 8 (the two it shares with the frame before are the same) gets the same ones:
   * only a token's change since the same token of the frame before moves it. A saved model keeps
   * it, and an {@code llm.json} written before the key existed reads as a model without it.
   */
  @Test
  void aModelGainingAFrameDifferenceMapReadsOnlyWhatChanged(@TempDir Path dir) throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    Sampling s = Sampling.greedy(3).withLogits();
    VisualTokens still = frames(1, 8, 32, 9).get(0);
    Map<String, Completion> moved;
    try (Reasoner r =
        Reasoner.loadExpanded(ckpt, saved.config().withFrameDifference(true), Device.cpu())) {
      NDArray map = r.parameters().get("llm.embed_frame_difference.weight").getArray();
      assertThat(map.toFloatArray()).hasSize(32 * 32).containsOnly(0f);
      assertAnswersAs(saved.answers(), r);
      List<Prompt> unchanged =
          List.of(
              r.prompt("twice", List.of(still, still, still), "how many shapes ?", s, null),
              r.prompt("grows", List.of(still.tokens(2), still), "how many shapes ?", s, null));
      Map<String, Completion> before = byId(r.generate(unchanged));
      java.util.Random random = new java.util.Random(4);
      float[] values = new float[32 * 32];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) random.nextGaussian();
      }
      map.set(values);
      moved = byId(r.generate(mixedPrompts(r, 5)));
      for (Completion c : saved.answers()) {
        int frames = c.prompt().frames().size();
        float diff = maxDiff(moved.get(c.prompt().id()).stepLogits().get(0), c.stepLogits().get(0));
        if (frames > 1) {
          assertThat(diff).as("%s, %d frames", c.prompt().id(), frames).isGreaterThan(100 * TOL);
        } else {
          assertThat(diff).as("%s, one frame", c.prompt().id()).isLessThan(TOL);
        }
      }
      Map<String, Completion> after = byId(r.generate(unchanged));
      before.forEach(
          (id, c) -> {
            assertThat(after.get(id).tokens()).as(id).containsExactly(c.tokens());
            assertSameLogits(after.get(id).stepLogits(), c.stepLogits());
          });
      r.save(dir.resolve("moving"));
    }
    assertThat(Reasoner.readConfig(dir.resolve("moving")).frameDifference()).isTrue();
    assertLoadsAnswering(dir.resolve("moving"), moved);
    assertThat(withoutKey(ckpt, saved, "frameDifference", "false").frameDifference()).isFalse();
  }

  /**
   * The checkpoint grown to {@code fourRows}, a table of four rows keyed by {@code key}, refuses
   * the mixed prompts (prompt c has 8 tokens a frame), naming the key.
   */
  private static void assertRefusesAFrameOfEight(Path ckpt, LmConfig fourRows, String key)
      throws IOException {
    try (Reasoner short4 = Reasoner.loadExpanded(ckpt, fourRows, Device.cpu())) {
      assertThatThrownBy(() -> short4.generate(mixedPrompts(short4, 5)))
          .hasMessageStartingWith(key + ": 4 rows, but a frame has 8 tokens");
    }
  }

  /** A model saved in {@code dir} answers the mixed prompts with the logits of {@code answers}. */
  private static void assertLoadsAnswering(Path dir, Map<String, Completion> answers)
      throws IOException {
    try (Reasoner loaded = Reasoner.load(dir, Device.cpu())) {
      Map<String, Completion> again = byId(loaded.generate(mixedPrompts(loaded, 5)));
      answers.forEach((id, c) -> assertSameLogits(again.get(id).stepLogits(), c.stepLogits()));
    }
  }

  /**
   * The checkpoint's {@code llm.json} as written before {@code key} existed (the key, at its
   * default {@code literal}, left out): it loads as the model it was, answering as before; returns
   * the config read from it.
   */
  /** {@code r}'s parameters whose names pass {@code which}, by name. */
  private static Map<String, NDArray> parametersWhere(
      Reasoner r, java.util.function.Predicate<String> which) {
    Map<String, NDArray> out = new java.util.TreeMap<>();
    r.parameters()
        .forEach(
            (name, p) -> {
              if (which.test(name)) {
                out.put(name, p.getArray());
              }
            });
    return out;
  }

  /**
   * {@code r}'s answers to {@link #mixedPrompts}, in one batch: the prompts whose m falls in {@code
   * set} ({@code setOf}) get other first-step logits than {@code saved}'s; the others the same
   * tokens and logits.
   */
  private static Map<String, Completion> assertOnlyTheSetsPromptsChange(
      Saved saved, Reasoner r, Map<String, Integer> setOf, int set) {
    Map<String, Completion> now = byId(r.generate(mixedPrompts(r, 5)));
    for (Completion c : saved.answers()) {
      String id = c.prompt().id();
      if (setOf.get(id) == set) {
        float diff = maxDiff(now.get(id).stepLogits().get(0), c.stepLogits().get(0));
        assertThat(diff).as("%s with set %d's weights moved", id, set).isGreaterThan(100 * TOL);
      } else {
        assertThat(now.get(id).tokens()).as(id).containsExactly(c.tokens());
        assertSameLogits(now.get(id).stepLogits(), c.stepLogits());
      }
    }
    return now;
  }

  private static LmConfig withoutKey(Path ckpt, Saved saved, String key, String literal)
      throws IOException {
    Path config = ckpt.resolve(Reasoner.CONFIG_FILE);
    String json = Files.readString(config);
    assertThat(json).contains("\"" + key + "\"");
    Files.writeString(config, json.replaceAll(",\\s*\"" + key + "\"\\s*:\\s*" + literal, ""));
    assertThat(Files.readString(config)).doesNotContain(key);
    try (Reasoner old = Reasoner.load(ckpt, Device.cpu())) {
      assertAnswersAs(saved.answers(), old);
    }
    return Reasoner.readConfig(ckpt);
  }

  /**
   * Phrases as tokens ("red square" one token): the grown model keeps every logit it had over its
   * old vocabulary, each phrase's embedding starts as the mean of its words', and both survive save
   * and load; a tokenizer that renumbers the model's own tokens is refused.
   */
  @Test
  void aModelGainingPhraseTokensKeepsItsLogitsAndStartsEachPhraseAsItsWords(@TempDir Path dir)
      throws Exception {
    Path ckpt = dir.resolve("ckpt");
    Saved saved = saveAModel(dir, ckpt);
    int old = saved.config().vocab();
    Path phrases = dir.resolve("phrases.json");
    int[] ids =
        WordVocabulary.withPhrases(
            ckpt.resolve("tokenizer.json"), phrases, List.of("red square", "Blue Triangle"));
    assertThat(ids).containsExactly(old, old + 1);
    assertThat(
            WordVocabulary.withPhrases(phrases, dir.resolve("again.json"), List.of("red square")))
        .containsExactly(old); // a phrase it has stays where it is
    assertThatThrownBy(() -> WordVocabulary.withPhrases(phrases, phrases, List.of("red")))
        .hasMessageContaining("several words");
    String c = "is there a red square left of the blue triangle ?";
    try (Reasoner small = Reasoner.load(ckpt, Device.cpu());
        Reasoner grown = small.withTokenizer(phrases)) {
      assertThat(grown.config().vocab()).isEqualTo(old + 2);
      long[] words = small.tokenizer().encode(c);
      long[] read = grown.tokenizer().encode(c);
      assertThat(read).hasSize(words.length - 2).contains(old, old + 1);
      assertThat(grown.tokenizer().decode(read)).isEqualTo(small.tokenizer().decode(words));
      Map<String, Completion> after = byId(grown.generate(mixedPrompts(grown, 5)));
      for (Completion before : saved.answers()) {
        if (!before.prompt().id().equals("c")) { // the prompts without a phrase
          float[] first = after.get(before.prompt().id()).stepLogits().get(0);
          assertThat(first).hasSize(old + 2);
          assertThat(maxDiff(Arrays.copyOf(first, old), before.stepLogits().get(0)))
              .as(before.prompt().id())
              .isLessThan(TOL);
        }
      }
      float[] was = small.parameters().get("llm.embed_tokens.weight").getArray().toFloatArray();
      float[] is = grown.parameters().get("llm.embed_tokens.weight").getArray().toFloatArray();
      int d = saved.config().dim();
      assertThat(Arrays.copyOf(is, old * d)).isEqualTo(was);
      int red = (int) small.tokenizer().encode("red")[0];
      int square = (int) small.tokenizer().encode("square")[0];
      for (int j = 0; j < d; j++) {
        assertThat(is[old * d + j])
            .isCloseTo((was[red * d + j] + was[square * d + j]) / 2, offset(1e-6f));
      }
      grown.save(dir.resolve("grown"));
    }
    try (Reasoner loaded = Reasoner.load(dir.resolve("grown"), Device.cpu())) {
      assertThat(loaded.config().vocab()).isEqualTo(old + 2);
      long[] read = loaded.tokenizer().encode("the blue triangle");
      assertThat(read).hasSize(2).endsWith(old + 1);
      assertThat(loaded.tokenizer().decode(read)).isEqualTo("the blue triangle");
    }
    Path renumbered = dir.resolve("renumbered.json");
    List<String> backwards = new ArrayList<>(ReasonerTestSupport.WORDS);
    Collections.reverse(backwards);
    backwards.add("purple");
    WordVocabulary.write(renumbered, backwards);
    try (Reasoner small = Reasoner.load(ckpt, Device.cpu())) {
      assertThatThrownBy(() -> small.withTokenizer(renumbered).close())
          .hasMessageContaining("as in the model's");
    }
  }

  @Test
  void tokenizerRoundTripsWordsAndMapsUnknownWords(@TempDir Path dir) throws Exception {
    try (TextTokenizer t = ReasonerTestSupport.tokenizer(dir)) {
      long[] ids = t.encode("What colour is the circle?");
      assertThat(ids).hasSize(6);
      assertThat(t.decode(ids))
          .isEqualTo("what colour is the circle?"); // the decoder tidies "circle ?"
      long[] unknown = t.encode("purple circle");
      assertThat(t.decode(unknown)).isEqualTo("circle"); // <unk> is special: left out of the text
      assertThat(unknown[0]).isEqualTo(1); // <unk>
      assertThat(t.sep()).isEqualTo(2);
      assertThat(t.eos()).isEqualTo(3);
    }
    Path bad = dir.resolve("bad.json");
    Files.writeString(
        bad, Files.readString(dir.resolve("tokenizer.json")).replace("<sep>", "<sp>"));
    assertThatThrownBy(() -> TextTokenizer.load(bad).close()).hasMessageContaining("<sep>");
  }

  /**
   * Which budget sets hold a LoRA update is read once at inference and forgotten by a training pass
   * (the step after it may move the maps): B maps written after a generation at zero, then one
   * training forward, change every prompt's answer.
   */
  @Test
  void aTrainingPassForgetsWhichSetsHoldAnUpdate(@TempDir Path dir) throws Exception {
    try (Reasoner r =
        ReasonerTestSupport.reasoner(
            dir, c -> c.withNormBudgets(List.of(1, 4, 8)).withLoraRank(2))) {
      Map<String, Completion> atZero = byId(r.generate(mixedPrompts(r, 5))); // every set at zero
      java.util.Random random = new java.util.Random(11);
      parametersWhere(r, n -> Reasoner.isBudgetLora(n) && n.endsWith("_b"))
          .values()
          .forEach(
              b -> {
                float[] values = new float[Math.toIntExact(b.size())];
                for (int i = 0; i < values.length; i++) {
                  values[i] = (float) random.nextGaussian() * 0.3f;
                }
                b.set(values);
              });
      try (NDManager scope = r.manager().newSubManager()) {
        NDArray x = scope.zeros(new Shape(1, 2, r.config().dim()));
        r.lm()
            .forward(
                new ParameterStore(scope, false),
                x,
                new long[][] {{0, 1}},
                new float[1][2],
                null,
                false,
                -1,
                new int[] {4},
                true);
      }
      Map<String, Completion> moved = byId(r.generate(mixedPrompts(r, 5)));
      for (String id : atZero.keySet()) {
        assertThat(maxDiff(moved.get(id).stepLogits().get(0), atZero.get(id).stepLogits().get(0)))
            .as(id)
            .isGreaterThan(TOL);
      }
    }
  }

  /**
   * Also with switchable norms (ranks 0), per-budget adapters and per-budget LoRA (rank 2), whose
   * per-row gains and maps are read from the model's own tables.
   */
  @ParameterizedTest
  @CsvSource({"false,0,0", "true,0,0", "true,2,0", "true,0,2"})
  void generatingManyBatchesLeavesNoNativeArraysBehind(
      boolean switchable, int adapterRank, int loraRank, @TempDir Path dir) throws Exception {
    try (Reasoner r =
        ReasonerTestSupport.reasoner(
            dir,
            c ->
                switchable
                    ? c.withNormBudgets(List.of(1, 4, 8))
                        .withAdapterRank(adapterRank)
                        .withLoraRank(loraRank)
                    : c)) {
      // every set's maps non-zero, so every row takes the low-rank path (sets at zero skip it)
      parametersWhere(r, n -> Reasoner.isBudgetAdapter(n) || Reasoner.isBudgetLora(n))
          .values()
          .forEach(
              a -> {
                float[] values = new float[Math.toIntExact(a.size())];
                java.util.Arrays.fill(values, 0.01f);
                a.set(values);
              });
      r.lm().weightsChanged();
      r.generate(mixedPrompts(r, 4));
      int before = r.manager().getManagedArrays().size();
      for (int i = 0; i < 50; i++) {
        try (DecodeBatch b = r.newBatch()) {
          b.admit(mixedPrompts(r, 4).subList(0, 2));
          b.step();
          b.admit(mixedPrompts(r, 4).subList(2, 4));
          while (b.active() > 0) {
            b.step();
          }
        }
      }
      assertThat(r.manager().getManagedArrays().size()).isEqualTo(before);
    }
  }

  @Test
  void aBatchThatNeverEmptiesDoesNotGrow(@TempDir Path dir) throws Exception {
    // The engine's batch lives as long as prompts keep coming: sequences join and retire while
    // others run. What it holds must stay bounded by the cache, not grow with the rounds.
    try (Reasoner r = ReasonerTestSupport.reasoner(dir);
        DecodeBatch b = r.newBatch()) {
      List<Integer> live = new java.util.ArrayList<>();
      for (int round = 0; round < 40; round++) {
        b.admit(List.of(mixedPrompts(r, 3).get(round % 4))); // each lives 3 steps
        b.step();
        live.add(b.liveArrays());
        assertThat(b.active()).isPositive().isLessThanOrEqualTo(3);
      }
      int early = java.util.Collections.max(live.subList(5, 20));
      int late = java.util.Collections.max(live.subList(20, 40));
      assertThat(late).as("native arrays held by the batch, %s", live).isLessThanOrEqualTo(early);
    }
  }

  private static Map<String, Completion> byId(List<Completion> cs) {
    return cs.stream().collect(Collectors.toMap(c -> c.prompt().id(), Function.identity()));
  }

  /** A fresh model's answers to {@link #mixedPrompts}, and its config, saved in {@code ckpt}. */
  private record Saved(List<Completion> answers, LmConfig config) {}

  private static Saved saveAModel(Path dir, Path ckpt) throws Exception {
    Files.createDirectories(dir.resolve("tok"));
    try (Reasoner r = ReasonerTestSupport.reasoner(dir.resolve("tok"))) {
      List<Completion> answers = r.generate(mixedPrompts(r, 5));
      r.save(ckpt);
      return new Saved(answers, r.config());
    }
  }

  /** {@code r} gives {@link #mixedPrompts} the tokens and the logits of {@code before}. */
  private static void assertAnswersAs(List<Completion> before, Reasoner r) {
    Map<String, Completion> after = byId(r.generate(mixedPrompts(r, 5)));
    for (Completion c : before) {
      assertThat(after.get(c.prompt().id()).tokens()).containsExactly(c.tokens());
      assertSameLogits(after.get(c.prompt().id()).stepLogits(), c.stepLogits());
    }
  }

  private static void assertSameLogits(List<float[]> a, List<float[]> b) {
    assertThat(a).hasSameSizeAs(b);
    for (int i = 0; i < a.size(); i++) {
      assertThat(maxDiff(a.get(i), b.get(i))).as("step %d", i).isLessThan(TOL);
    }
  }

  private static float maxDiff(float[] a, float[] b) {
    assertThat(a).hasSameSizeAs(b);
    float m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }
}

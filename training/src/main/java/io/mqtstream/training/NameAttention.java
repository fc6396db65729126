package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.mqtstream.nn.Scalars;
import io.mqtstream.reasoner.TextTokenizer;
import io.mqtstream.world.Colour;
import io.mqtstream.world.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An auxiliary loss of stage 2 on where the LM looks. With object names as one token and a token
 * per identity (token {@code 1 + i} of every frame holds identity i's presence, place and motion,
 * {@link IdentityHead}; past the summaries with more than one, {@link TokenLayout}), finding "the
 * red circle" is a lookup: the name's embedding asks for token {@code 1 + i}. The LM did not learn
 * that lookup from answers alone (the model card: v13 to v15 answer position and direction about
 * one object among several as if they picked one at random). This loss asks for it: at each object
 * name in a question, head h of the LM's first layer puts its attention on that object's token in
 * frame {@code T − 1 − h} (cross-entropy of the attention weight, averaged over names and heads),
 * so the name's position holds the object's place in the last frames, and its motion as their
 * difference. Names whose token is among the first m are asked about; with {@code nameSummary} the
 * others too, their heads pointed at the frame's summary, token 0 (at a small budget the summary is
 * all the frame says of them). Nothing is added to the model: the loss shapes the LM's own
 * attention.
 */
final class NameAttention {
  /** The LM layer whose attention the loss shapes. */
  static final int LAYER = 0;

  private final float weight;
  private final boolean summary;
  private final TokenLayout layout;
  private final Map<Long, Integer> identityOfName = new HashMap<>();

  /**
   * @param tokenizer a tokenizer that reads each object name as one token
   * @param weight {@code nameAttention}
   * @param summary {@code nameSummary}: names beyond m look at token 0
   * @param layout where each identity's own token lies
   */
  NameAttention(TextTokenizer tokenizer, float weight, boolean summary, TokenLayout layout) {
    this.weight = weight;
    this.summary = summary;
    this.layout = layout;
    for (Shape s : Shape.values()) {
      for (Colour c : Colour.values()) {
        long[] ids = tokenizer.encode(c.word() + " " + s.word());
        if (ids.length != 1) {
          throw new IllegalArgumentException(
              "train.nameAttention: the tokenizer reads '"
                  + c.word()
                  + " "
                  + s.word()
                  + "' as "
                  + ids.length
                  + " tokens (needs objectNames)");
        }
        identityOfName.put(ids[0], PatchTargets.slot(c, s));
      }
    }
  }

  /** A question's first object name: its index among the question's tokens and its identity. */
  record Name(int at, int identity) {}

  /** The first object name in {@code question}, or null when it names none. */
  Name find(long[] question) {
    for (int j = 0; j < question.length; j++) {
      Integer identity = identityOfName.get(question[j]);
      if (identity != null) {
        return new Name(j, identity);
      }
    }
    return null;
  }

  /**
   * Where each head should look from each name: flat indices into the attention weights.
   *
   * @param names per turn, its name (null for none), turn after turn as the LM's rows lay them out
   * @param rowOf per turn, its row
   * @param nameAt per turn, the padded position of its name (read where {@code names} is not null)
   * @param firstVisual per row, the padded position of its first frame's first token
   * @param m tokens per frame
   * @param frames frames per clip
   * @param heads the layer's heads
   * @param length the padded row length L
   * @return flat indices into (R, H, L, L), one per (name, head), empty when no name's token is
   *     among the first m and names beyond m are not asked about
   */
  long[] targets(
      List<Name> names,
      int[] rowOf,
      int[] nameAt,
      int[] firstVisual,
      int m,
      int frames,
      int heads,
      int length) {
    List<Long> at = new ArrayList<>();
    for (int k = 0; k < names.size(); k++) {
      Name name = names.get(k);
      boolean own = name != null && layout.within(name.identity(), m);
      if (name == null || !own && !summary) {
        continue;
      }
      int token = own ? layout.tokenOf(name.identity()) : 0; // its own, else the frame's summary
      int row = rowOf[k];
      for (int h = 0; h < Math.min(heads, frames); h++) {
        int frame = frames - 1 - h;
        long key = firstVisual[row] + (long) frame * m + token;
        at.add((((long) row * heads + h) * length + nameAt[k]) * length + key);
      }
    }
    return at.stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * {@link #error} times {@code nameAttention}.
   *
   * @param attention (R, H, L, L), the first layer's weights
   * @param at from {@link #targets}, not empty
   */
  NDArray loss(NDManager scope, NDArray attention, long[] at) {
    return Scalars.times(error(scope, attention, at), weight);
  }

  /** The mean of −log(weight) over the targets, in nats (0: every head looks only there). */
  static NDArray error(NDManager scope, NDArray attention, long[] at) {
    NDArray picked = attention.reshape(-1).get(new NDIndex("{}", scope.create(at))); // (K)
    return picked.add(1e-9f).log().mean().neg();
  }
}

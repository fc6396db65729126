package io.mqtstream.training;

import java.util.stream.IntStream;

/**
 * Where each identity's own token lies among a frame's M tokens ({@code identityTokens}). The first
 * {@code summaryTokens} tokens are the frame's summaries; identity i's token is 1 + i, except that
 * the identities whose token would fall among the summaries (i &lt; summaryTokens − 1) move past
 * the fifteenth identity's token (15), to token 16 + i. With one summary token (the layout of v16
 * to v18) identity i is token 1 + i; with four, a budget of m = 4 is four summaries, as a model
 * trained at m = 4 alone may make them, and identities 0 to 2 get their tokens from m = 19 on.
 *
 * @param summaryTokens how many tokens of a frame come before the identities' own tokens, ≥ 1
 */
record TokenLayout(int summaryTokens) {
  private static final int IDENTITIES = PatchTargets.SLOTS;

  TokenLayout {
    if (summaryTokens < 1) {
      throw new IllegalArgumentException("summaryTokens must be >= 1: " + summaryTokens);
    }
  }

  /** The index of identity i's own token within a frame. */
  int tokenOf(int identity) {
    return identity < summaryTokens - 1 ? 1 + IDENTITIES + identity : 1 + identity;
  }

  /** Whether identity i's own token is among a frame's first m. */
  boolean within(int identity, int m) {
    return tokenOf(identity) < m;
  }

  /** The tokens a layout needs: one past the last identity's token. */
  int tokensNeeded() {
    return IDENTITIES + summaryTokens;
  }

  /**
   * The identities whose own token is among the first m, in the order of their tokens: those that
   * kept 1 + i, then those moved past the fifteenth.
   */
  int[] identitiesWithin(int m) {
    return IntStream.concat(
            IntStream.range(summaryTokens - 1, IDENTITIES), IntStream.range(0, summaryTokens - 1))
        .filter(i -> within(i, m))
        .toArray();
  }
}

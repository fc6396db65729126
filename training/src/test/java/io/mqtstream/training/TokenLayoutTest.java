package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Where each identity's own token lies, with one summary token and with four. */
class TokenLayoutTest {
  private static final int IDENTITIES = PatchTargets.SLOTS;

  @Test
  void withOneSummaryIdentityIIsToken1PlusI() {
    TokenLayout one = new TokenLayout(1);
    assertThat(IntStream.range(0, IDENTITIES).map(one::tokenOf))
        .containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    assertThat(one.identitiesWithin(2)).containsExactly(0);
    assertThat(one.identitiesWithin(4)).containsExactly(0, 1, 2);
    assertThat(one.tokensNeeded()).isEqualTo(16);
  }

  @Test
  void withFourSummariesTheFirstFourTokensHoldNoIdentity() {
    TokenLayout four = new TokenLayout(4);
    assertThat(IntStream.range(0, IDENTITIES).map(four::tokenOf))
        .containsExactly(16, 17, 18, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    assertThat(four.identitiesWithin(2)).isEmpty();
    assertThat(four.identitiesWithin(4)).isEmpty();
    assertThat(four.identitiesWithin(5)).containsExactly(3);
    assertThat(four.identitiesWithin(16)).containsExactly(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    assertThat(four.identitiesWithin(18)) // in the order of their tokens: 4..15, then 16, 17
        .containsExactly(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 1);
    assertThat(four.identitiesWithin(19)).hasSize(IDENTITIES);
    assertThat(four.tokensNeeded()).isEqualTo(19);
    assertThatThrownBy(() -> new TokenLayout(0)).hasMessageContaining("summaryTokens");
  }
}

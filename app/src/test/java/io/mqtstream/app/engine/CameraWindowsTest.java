package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CameraWindowsTest {

  @Test
  void aWindowHoldsTheLastTFramesOldestFirst() {
    CameraWindows<String> windows = new CameraWindows<>(3, 1);
    windows.add("cam", "f0", true);
    windows.add("cam", "f1", false);
    windows.add("cam", "f2", false);
    assertThat(windows.add("cam", "f3", false)).contains(List.of("f1", "f2", "f3"));
  }

  @Test
  void aSceneStartEmptiesTheWindowSoNoPromptMixesTwoScenes() {
    CameraWindows<String> windows = new CameraWindows<>(4, 1);
    windows.add("cam", "a0", true);
    windows.add("cam", "a1", false);
    assertThat(windows.add("cam", "b0", true)).contains(List.of("b0"));
    assertThat(windows.add("cam", "b1", false)).contains(List.of("b0", "b1"));
  }

  @Test
  void everyKthFrameOfASceneIsAskedOnCountingFromTheScenesFirstFrame() {
    CameraWindows<Integer> windows = new CameraWindows<>(2, 3);
    StringBuilder asked = new StringBuilder();
    for (int i = 0; i < 7; i++) {
      Optional<List<Integer>> w = windows.add("cam", i, i == 0 || i == 4);
      asked.append(w.isPresent() ? 'Y' : '.');
    }
    // scene one: frames 0..3, asked on its 3rd frame (2); scene two from 4: asked on its 3rd (6)
    assertThat(asked.toString()).isEqualTo("..Y...Y");
  }

  @Test
  void camerasKeepTheirOwnWindows() {
    CameraWindows<String> windows = new CameraWindows<>(2, 1);
    windows.add("a", "a0", true);
    windows.add("b", "b0", true);
    assertThat(windows.add("a", "a1", false)).contains(List.of("a0", "a1"));
    assertThat(windows.add("b", "b1", false)).contains(List.of("b0", "b1"));
  }

  @Test
  void aReturnedWindowIsACopyThatLaterFramesDoNotChange() {
    CameraWindows<String> windows = new CameraWindows<>(2, 1);
    List<String> first = windows.add("cam", "f0", true).orElseThrow();
    windows.add("cam", "f1", false);
    windows.add("cam", "f2", false);
    assertThat(first).containsExactly("f0");
  }

  @Test
  void boundsBelowOneAreRejected() {
    assertThatThrownBy(() -> new CameraWindows<>(0, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new CameraWindows<>(1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

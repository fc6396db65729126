package io.mqtstream.camera;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SyntheticCameraTest {
  private final SyntheticWorld world = new SyntheticWorld(WorldConfig.tiny());

  @Test
  void theSyntheticCameraFilmsClipsWithTheirTruthInHeaders() throws Exception {
    try (CameraSource camera = CameraSources.open("synthetic:split=test,start=5,clips=2")) {
      camera.open();
      List<CameraSource.Captured> frames = new ArrayList<>();
      for (var f = camera.grab(); f.isPresent(); f = camera.grab()) {
        frames.add(f.get());
      }
      assertThat(frames).hasSize(2 * WorldConfig.tiny().frames());
      CameraSource.Captured last = frames.get(3);
      assertThat(last.headers().get(FrameHeaders.CLIP_SEED))
          .isEqualTo(Long.toString(Split.TEST.seed(5)));
      assertThat(last.headers().get(FrameHeaders.CLIP_FRAME)).isEqualTo("3");
      Clip clip = world.clip(Split.TEST.seed(5));
      assertThat(bytes(last.image())).isEqualTo(bytes(clip.render(3)));
      @SuppressWarnings("unchecked")
      Map<String, String> truth =
          new ObjectMapper().readValue(last.headers().get(FrameHeaders.TRUTH), Map.class);
      for (Question q : world.questions(clip, 3)) {
        assertThat(truth).containsEntry(q.text(), q.answer());
      }
    }
    assertThatThrownBy(() -> CameraSources.open("synthetic:colour=red"))
        .hasMessageContaining("colour");
  }

  private static byte[] bytes(BufferedImage img) {
    return ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
  }
}

package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.mqtstream.world.Clip;
import io.mqtstream.world.Colour;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Shape;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class PatchTargetsTest {
  private static final int PATCH = 8;

  /**
   * Summed over all patches, the object slots name exactly the objects the frame shows, each with
   * its place in the frame: the property the slots exist for (a pooled sum keeps who is where). And
   * the one patch holding an object's slot is the patch whose pixels the renderer gave that object
   * at its centre.
   */
  @Test
  void objectSlotsSumToTheVisibleObjectsAndTheirPlaces() {
    SyntheticWorld world = new SyntheticWorld(WorldConfig.tiny());
    int checked = 0;
    for (long seed = 0; seed < 50; seed++) {
      Clip clip = world.clip(seed);
      int size = clip.imageSize();
      int grid = size / PATCH;
      for (int t = 0; t < clip.frames(); t++) {
        PatchTargets targets = PatchTargets.of(clip, t, PATCH);
        float[] sum = new float[PatchTargets.SLOTS * PatchTargets.SLOT_WIDTH];
        for (int p = 0; p < grid * grid; p++) {
          for (int k = 0; k < sum.length; k++) {
            sum[k] += targets.slots()[p * sum.length + k];
          }
        }
        List<SceneObject> visible = clip.visibleAt(t);
        int[] map = clip.objectMap(t);
        for (Colour c : Colour.values()) {
          for (Shape s : Shape.values()) {
            int k = PatchTargets.slot(c, s) * PatchTargets.SLOT_WIDTH;
            SceneObject o =
                visible.stream()
                    .filter(v -> v.colour() == c && v.shape() == s)
                    .findFirst()
                    .orElse(null);
            if (o == null) {
              assertThat(new float[] {sum[k], sum[k + 1], sum[k + 2]})
                  .as("seed %d frame %d: %s %s is not there", seed, t, c, s)
                  .containsOnly(0f);
              continue;
            }
            assertThat(sum[k]).isEqualTo(1f);
            assertThat(sum[k + 1]).isCloseTo((float) (o.x(t) / size * 2 - 1), within(1e-5f));
            assertThat(sum[k + 2]).isCloseTo((float) (o.y(t) / size * 2 - 1), within(1e-5f));
            int px = (int) (o.x(t) / PATCH);
            int py = (int) (o.y(t) / PATCH);
            assertThat(targets.slots()[(py * grid + px) * sum.length + k])
                .as("the slot lies in the centre's patch")
                .isEqualTo(1f);
            assertThat(map[(int) o.y(t) * size + (int) o.x(t)])
                .as("the renderer drew this object at its centre")
                .isEqualTo(clip.objects().indexOf(o));
            checked++;
          }
        }
      }
    }
    assertThat(checked).isGreaterThan(200);
  }
}

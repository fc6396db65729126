package io.mqtstream.training;

import io.mqtstream.world.Clip;
import io.mqtstream.world.Colour;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Shape;
import java.util.List;

/**
 * What lies in each patch of one frame, from the world's ground truth: the labels of the vision
 * stage (stage 0), in the spirit of a detector's dense targets.
 *
 * @param colour per patch: 0 = no object, else 1 + the {@link Colour} of the object covering most
 *     of the patch (at least an eighth of it)
 * @param shape per patch: 0 = no object, else 1 + that object's {@link Shape}
 * @param centre per patch: 1 where an object's centre lies, else 0
 * @param offset per patch, (dx, dy): where in the patch that centre lies, -1 (left/top edge) to 1
 *     (right/bottom edge); 0 where there is no centre
 * @param slots per patch, {@link #SLOTS} slots of {@link #SLOT_WIDTH} (one per colour × shape, the
 *     object's identity: a colour-shape pair occurs at most once per clip): at the patch of an
 *     object's centre, its slot holds (1, x, y), the centre's place in the whole frame from -1
 *     (left/top edge) to 1; every other value is 0. Class-specific targets, as Fast R-CNN regresses
 *     a box per class: a sum of them over any set of patches still says which objects lie there and
 *     where, which a sum of per-patch colour, shape and place cannot
 */
record PatchTargets(int[] colour, int[] shape, int[] centre, float[] offset, float[] slots) {
  static final int COLOURS = Colour.values().length + 1;
  static final int SHAPES = Shape.values().length + 1;
  static final int SLOTS = Colour.values().length * Shape.values().length;
  static final int SLOT_WIDTH = 3;

  /** The slot of a colour-shape pair. */
  static int slot(Colour colour, Shape shape) {
    return colour.ordinal() * Shape.values().length + shape.ordinal();
  }

  /** The targets of frame t on a grid of {@code imageSize / patch} patches a side. */
  static PatchTargets of(Clip clip, int t, int patch) {
    int size = clip.imageSize();
    int grid = size / patch;
    int patches = grid * grid;
    List<SceneObject> objects = clip.objects();
    int[] map = clip.objectMap(t);
    int[] colour = new int[patches];
    int[] shape = new int[patches];
    int[] centre = new int[patches];
    float[] offset = new float[2 * patches];
    float[] slots = new float[patches * SLOTS * SLOT_WIDTH];
    int[] counts = new int[objects.size()];
    for (int py = 0; py < grid; py++) {
      for (int px = 0; px < grid; px++) {
        java.util.Arrays.fill(counts, 0);
        for (int y = py * patch; y < (py + 1) * patch; y++) {
          for (int x = px * patch; x < (px + 1) * patch; x++) {
            int k = map[y * size + x];
            if (k >= 0) {
              counts[k]++;
            }
          }
        }
        int best = -1;
        for (int k = 0; k < counts.length; k++) {
          if (counts[k] * 8 >= patch * patch && (best < 0 || counts[k] > counts[best])) {
            best = k;
          }
        }
        if (best >= 0) {
          colour[py * grid + px] = 1 + objects.get(best).colour().ordinal();
          shape[py * grid + px] = 1 + objects.get(best).shape().ordinal();
        }
      }
    }
    for (SceneObject o : clip.visibleAt(t)) {
      double x = Math.min(size - 1e-6, Math.max(0, o.x(t)));
      double y = Math.min(size - 1e-6, Math.max(0, o.y(t)));
      int px = (int) (x / patch);
      int py = (int) (y / patch);
      int i = py * grid + px;
      centre[i] = 1;
      offset[2 * i] = (float) (2 * (x / patch - px) - 1);
      offset[2 * i + 1] = (float) (2 * (y / patch - py) - 1);
      int k = (i * SLOTS + slot(o.colour(), o.shape())) * SLOT_WIDTH;
      slots[k] = 1;
      slots[k + 1] = (float) (2 * x / size - 1);
      slots[k + 2] = (float) (2 * y / size - 1);
    }
    return new PatchTargets(colour, shape, centre, offset, slots);
  }
}

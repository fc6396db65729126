// Where v16's first run looks and what its tokens hold (the model card's "Since v15", 2.): on 64 test
// clips, the name loss's error (mean -log of the first layer's attention on each named object's token)
// at m = 4, 8, 16, 64, and the identity head's slot reads (each identity from its own token 1 + i).
// Needs the run's checkpoint with its identity head (configs/train/mqt-tiny-name-attention.yaml):
// jshell -R-Dai.djl.offline=true --class-path "app/target/mqt-stream.jar:$(ls app/target/lib/*.jar | tr '\n' ':')" docs/eval/name-attention-probe.jsh
import io.mqtstream.training.*;
import io.mqtstream.world.*;
import java.lang.reflect.*;
import java.nio.file.*;
import java.util.*;
Class<?> spec = Class.forName("io.mqtstream.app.TrainSpec");
Method load = spec.getDeclaredMethod("load", Path.class); load.setAccessible(true);
Method toConfig = spec.getDeclaredMethod("toConfig"); toConfig.setAccessible(true);
TrainConfig c = (TrainConfig) toConfig.invoke(load.invoke(null, Path.of("configs/train/mqt-tiny-name-attention.yaml")));
Trainer t = Trainer.resume(c, Path.of("target/train/name-attention/final"));
var world = new SyntheticWorld(c.world());
List<Clip> clips = new ArrayList<>();
for (int i = 0; i < 64; i++) clips.add(world.clip(Split.TEST.seed(i)));
Method nameError = Trainer.class.getDeclaredMethod("nameError", List.class, int.class); nameError.setAccessible(true);
for (int m : new int[] {4, 8, 16, 64}) {
  float e = (float) nameError.invoke(t, clips, m);
  System.out.printf("m=%d: name error %.3f nats (weight on the named token exp(-e) = %.1f %%)%n", m, e, 100 * Math.exp(-e));
}
Method identityErrors = Trainer.class.getDeclaredMethod("identityErrors", List.class, int.class); identityErrors.setAccessible(true);
float[] e = (float[]) identityErrors.invoke(t, clips, 64);
// places from -1 to 1 across 64 px (32 px a unit); motion in IdentityHead.MOTION_SCALE (8) units
System.out.printf("slot reads at m=64: presence %.4f nats, place %.1f px rms, motion %.2f px rms (mean reads: place %.1f px, motion %.2f px)%n",
    e[3], 32 * Math.sqrt(e[4]), 32 * Math.sqrt(e[5]) / 8, 32 * Math.sqrt(e[1]), 32 * Math.sqrt(e[2]) / 8);
t.close();
/exit

// The name-subject read's error on 64 test clips (model card "Since v16"): how far off the named
// object's place in every frame is read from the output of the LM's first layer at its name, at
// m = 16 and 64, by the head the run trained (target/train/direction-name-subject-v16/final, from
// configs/train/mqt-tiny-direction-name-subject-v16.yaml). About 30 s:
// jshell -R-Dai.djl.offline=true --class-path "app/target/mqt-stream.jar:$(ls app/target/lib/*.jar | tr '\n' ':')" docs/eval/name-subject-probe.jsh
import io.mqtstream.training.*;
import io.mqtstream.world.*;
import java.lang.reflect.*;
import java.nio.file.*;
import java.util.*;
Class<?> spec = Class.forName("io.mqtstream.app.TrainSpec");
Method load = spec.getDeclaredMethod("load", Path.class); load.setAccessible(true);
Method toConfig = spec.getDeclaredMethod("toConfig"); toConfig.setAccessible(true);
TrainConfig c = (TrainConfig) toConfig.invoke(load.invoke(null, Path.of("configs/train/mqt-tiny-direction-name-subject-v16.yaml")));
Trainer t = Trainer.resume(c, Path.of("target/train/direction-name-subject-v16/final"));
var world = new SyntheticWorld(c.world());
List<Clip> clips = new ArrayList<>();
for (int i = 0; i < 64; i++) clips.add(world.clip(Split.TEST.seed(i)));
Method e1 = Trainer.class.getDeclaredMethod("nameSubjectError", List.class, int.class); e1.setAccessible(true);
for (int m : new int[] {16, 64}) {
  float e = (float) e1.invoke(t, clips, m);
  // places from -1 to 1 across 64 px: 32 px a unit
  System.out.printf("m=%d: name-subject mse %.4f (%.1f px rms)%n", m, e, 32 * Math.sqrt(e));
}
t.close();
/exit

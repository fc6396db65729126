/**
 * The synthetic video world, Matryoshka training (a random even m per step) and evaluation per m.
 * Not built yet (its own issue).
 */
package io.mqtstream.training;

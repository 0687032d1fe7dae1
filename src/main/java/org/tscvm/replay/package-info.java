/**
 * Record and replay on the deterministic clock: {@code --record FILE} logs every input the
 * guest does not determine (COM1's input bytes, each at the round-robin pass where it reached
 * the UART) and the run's final state digest; {@code --replay FILE} feeds the log back and
 * stops at the first event where the run no longer matches. The format is in
 * docs/replay-format.md.
 */
package org.tscvm.replay;

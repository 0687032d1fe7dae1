package org.tscvm.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.Deflater;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tscvm.machine.Machine;
import org.tscvm.snapshot.SnapshotException.Kind;
import org.tscvm.snapshot.SnapshotFiles.Span;

/**
 * The reader refuses every damaged file with a {@link SnapshotException} that names the kind and
 * the section, and nothing else escapes: bit flips in every section, truncation at and inside
 * every section, lying lengths (with and without a matching CRC), huge counts, and a seeded
 * random mix of all of them.
 */
class SnapshotReaderFuzzTest {
    private static byte[] file;
    private static List<Span> spans;

    @BeforeAll
    static void save() throws Exception {
        file = SnapshotFiles.savedMidRun();
        spans = SnapshotFiles.sections(file);
    }

    @Test
    void theUndamagedFileReadsAndHoldsEverySectionInOrder() {
        assertThat(spans.stream().map(Span::tag).distinct().toList()).containsExactly("CONF", "TIME", "VCPU", "PIT ",
                "UART", "CMOS", "FWCF", "ACPM", "KBDC", "PCIH", "RSTC", "SHDN", "TDEV", "PIC ", "IOAP", "RAM ", "END ");
        assertThat(spans.get(spans.size() - 1).end()).isEqualTo(file.length);
        MachineState state = SnapshotFiles.read(file);
        assertThat(state.vcpus()).hasSize(2);
        // 32 MiB of RAM, of which the kernel and ACPI tables touch a few pages: zero pages are not stored.
        assertThat(state.ram().storedPages()).isPositive().isLessThan(64);
        assertThat(file.length).isLessThan(200_000);
    }

    @Test
    void aBitFlipInAnySectionIsRefusedAsCorruptNamingThatSection() {
        Random random = new Random(1);
        for (Span span : spans) {
            for (int i = 0; i < 8; i++) {
                byte[] damaged = file.clone();
                int at = span.start() + random.nextInt(span.end() - span.start());
                if (at >= span.start() && at < span.start() + 4) {
                    continue; // a flipped tag is an unexpected section: tested below
                }
                damaged[at] ^= (byte) (1 << random.nextInt(8));
                assertThatThrownBy(() -> SnapshotFiles.read(damaged)).as("flip at %d in %s", at, span.tag())
                        .isInstanceOfSatisfying(SnapshotException.class, e -> {
                            assertThat(e.kind()).isIn(Kind.CORRUPT, Kind.TRUNCATED);
                            assertThat(e.section()).isNotNull();
                        });
            }
        }
    }

    @Test
    void aBitFlipInTheHeaderIsRefusedForWhatItBroke() {
        for (int at = 0; at < SnapshotFiles.headerLength(file); at++) {
            byte[] damaged = file.clone();
            damaged[at] ^= 0x10;
            int offset = at;
            Kind expected = at < 8 ? Kind.NOT_A_SNAPSHOT : at < 10 ? Kind.VERSION : null;
            assertThatThrownBy(() -> SnapshotFiles.read(damaged)).as("flip at %d", at)
                    .isInstanceOfSatisfying(SnapshotException.class, e -> {
                        if (expected != null) {
                            assertThat(e.kind()).isEqualTo(expected);
                        } else {
                            assertThat(e.kind()).as("flip at %d: %s", offset, e.getMessage())
                                    .isIn(Kind.CORRUPT, Kind.TRUNCATED);
                        }
                    });
        }
    }

    @Test
    void aWrongVersionIsRefusedAsSuch() {
        byte[] damaged = file.clone();
        damaged[8] = 1; // version 1 had no XCR0 in its vCPU sections
        assertThatThrownBy(() -> SnapshotFiles.read(damaged)).isInstanceOfSatisfying(SnapshotException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.VERSION);
            assertThat(e.getMessage()).contains("format version 1").contains("reads version 2");
        });
    }

    @Test
    void truncationAtEverySectionBoundaryAndInsideIsRefusedAsTruncatedNamingTheSection() {
        for (Span span : spans) {
            int[] cuts = {span.start(), span.start() + 3, span.start() + 8, span.payloadStart() + span.payloadLength() / 2,
                span.end() - 2};
            for (int cut : cuts) {
                if (cut >= file.length || (cut > span.payloadStart() + span.payloadLength() && span.payloadLength() == 0)) {
                    continue;
                }
                byte[] truncated = Arrays.copyOf(file, cut);
                assertThatThrownBy(() -> SnapshotFiles.read(truncated)).as("cut at %d in %s", cut, span.tag())
                        .isInstanceOfSatisfying(SnapshotException.class, e -> {
                            assertThat(e.kind()).isEqualTo(Kind.TRUNCATED);
                            assertThat(e.section()).isNotNull();
                            assertThat(e.getMessage()).contains("ends");
                        });
            }
        }
        for (int cut = 0; cut < SnapshotFiles.headerLength(file); cut++) {
            byte[] truncated = Arrays.copyOf(file, cut);
            assertThatThrownBy(() -> SnapshotFiles.read(truncated)).isInstanceOfSatisfying(SnapshotException.class,
                    e -> assertThat(e.kind()).isEqualTo(Kind.TRUNCATED));
        }
    }

    @Test
    void aLengthBeyondTheSectionsLimitIsRefusedBeforeAnythingIsAllocated() {
        for (Span span : spans) {
            byte[] damaged = file.clone();
            ByteBuffer.wrap(damaged).order(ByteOrder.LITTLE_ENDIAN).putInt(span.start() + 4, 0xffff_fff0);
            assertThatThrownBy(() -> SnapshotFiles.read(damaged)).isInstanceOfSatisfying(SnapshotException.class, e -> {
                assertThat(e.kind()).isEqualTo(Kind.CORRUPT);
                assertThat(e.getMessage()).contains("exceeds the format's limit");
            });
        }
    }

    @Test
    void aPayloadShorterOrLongerThanItsFieldsIsRefusedEvenWithAMatchingCrc() {
        for (Span span : spans) {
            byte[] payload = SnapshotFiles.payload(file, span);
            if (span.tag().equals("END ")) {
                continue;
            }
            byte[] shorter = SnapshotFiles.withPayload(file, span, Arrays.copyOf(payload, payload.length - 1));
            byte[] longer = SnapshotFiles.withPayload(file, span, Arrays.copyOf(payload, payload.length + 3));
            for (byte[] damaged : new byte[][] {shorter, longer}) {
                assertThatThrownBy(() -> SnapshotFiles.read(damaged)).as(span.tag())
                        .isInstanceOfSatisfying(SnapshotException.class, e -> {
                            assertThat(e.kind()).isEqualTo(Kind.CORRUPT);
                            assertThat(e.section()).isNotNull();
                        });
            }
        }
    }

    @Test
    void hugeCountsAreRefusedAsCorrupt() {
        Span time = span("TIME");
        byte[] payload = SnapshotFiles.payload(file, time);
        ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).putInt(8 * 5 + 1, -1); // the vCPU count
        assertCorrupt(SnapshotFiles.withPayload(file, time, payload), "vCPU count");

        Span uart = span("UART");
        byte[] u = SnapshotFiles.payload(file, uart);
        u[12] = (byte) 200; // received bytes: more than the FIFO holds
        assertCorrupt(SnapshotFiles.withPayload(file, uart, u), "FIFO");

        Span ram = span("RAM ");
        byte[] r = SnapshotFiles.payload(file, ram);
        ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Integer.MAX_VALUE);
        assertCorrupt(SnapshotFiles.withPayload(file, ram, r), "chunk index");
    }

    @Test
    void aDeflateStreamThatInflatesBeyondItsBitmapIsRefused() {
        Span ram = span("RAM ");
        // A bitmap marking one page and 1 MiB of zeros deflated: a small section that would grow 256-fold.
        byte[] zeros = new byte[(int) RamImage.CHUNK_BYTES];
        Deflater d = new Deflater();
        d.setInput(zeros);
        d.finish();
        byte[] packed = new byte[8192];
        int n = d.deflate(packed);
        d.end();
        ByteBuffer b = ByteBuffer.allocate(4 + 32 + 1 + n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(ByteBuffer.wrap(SnapshotFiles.payload(file, ram)).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
        b.putLong(1).putLong(0).putLong(0).putLong(0).put((byte) RamImage.ENCODING_DEFLATE).put(packed, 0, n);
        assertCorrupt(SnapshotFiles.withPayload(file, ram, b.array()), "deflate");
    }

    @Test
    void sectionsOutOfOrderOrUnknownAreRefusedNamingWhatWasExpected() {
        Span pit = span("PIT ");
        byte[] damaged = file.clone();
        damaged[pit.start()] = 'X';
        assertThatThrownBy(() -> SnapshotFiles.read(damaged)).isInstanceOfSatisfying(SnapshotException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.CORRUPT);
            assertThat(e.section()).isEqualTo("PIT");
            assertThat(e.getMessage()).contains("unknown section tag \"XIT \"");
        });
    }

    /**
     * Seeded: thousands of damaged files, each with one to three random mutations, half of them
     * with every CRC then made to match so the damage reaches the section parsers. Every one is
     * read; each either reads or is refused with a SnapshotException. Every tenth that reads is
     * restored into a fresh machine, which must take it or refuse it the same way.
     */
    @Test
    void aSeededRandomFuzzOfThousandsOfFilesOnlyEverEndsInASnapshotException() throws Exception {
        Random random = new Random(0x5eed);
        int refused = 0;
        int read = 0;
        int restored = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] damaged = mutate(file.clone(), random);
            boolean fixCrcs = random.nextBoolean();
            if (fixCrcs) {
                fixAllCrcs(damaged);
            }
            MachineState state;
            try {
                state = SnapshotFiles.read(damaged);
            } catch (SnapshotException e) {
                refused++;
                assertThat(e.getMessage()).startsWith("snapshot ");
                continue;
            }
            read++;
            if (read % 10 == 1) {
                Machine m = new Machine(SnapshotFiles.smallMachine().build());
                try {
                    MachineSnapshot.restore(m, state, RestoreTime.PAUSED);
                    restored++;
                } catch (SnapshotException e) {
                    refused++;
                }
            }
        }
        assertThat(refused).isGreaterThan(1500);
        assertThat(read + refused).isGreaterThanOrEqualTo(3000);
        assertThat(restored).isPositive();
    }

    private static byte[] mutate(byte[] f, Random random) {
        byte[] out = f;
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            List<Span> s = SnapshotFiles.sections(file);
            Span span = s.get(random.nextInt(s.size()));
            switch (random.nextInt(5)) {
                case 0 -> out[span.start() + random.nextInt(span.end() - span.start())] ^= (byte) (1 << random.nextInt(8));
                case 1 -> out = Arrays.copyOf(out, random.nextInt(out.length));
                case 2 -> {
                    if (span.payloadLength() > 0) {
                        out[span.payloadStart() + random.nextInt(span.payloadLength())] = (byte) random.nextInt(256);
                    }
                }
                case 3 -> ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(span.start() + 4,
                        random.nextBoolean() ? random.nextInt() : span.payloadLength() + random.nextInt(17) - 8);
                default -> {
                    if (span.payloadLength() >= 4) {
                        int at = span.payloadStart() + random.nextInt(span.payloadLength() - 3);
                        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(at,
                                random.nextBoolean() ? -1 : random.nextInt());
                    }
                }
            }
            if (out.length < f.length) {
                break; // truncated: nothing further to damage at the old offsets
            }
        }
        return out;
    }

    /** Makes every CRC that can be found match again, walking the (possibly damaged) lengths. */
    private static void fixAllCrcs(byte[] f) {
        if (f.length < 22) {
            return;
        }
        int at = SnapshotFiles.headerLength(f);
        while (at + 8 <= f.length) {
            int length = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getInt(at + 4);
            if (length < 0 || at + 8L + length + 4 > f.length) {
                return;
            }
            SnapshotFiles.fixCrc(f, new Span(at, "", at + 8, length));
            at += 8 + length + 4;
        }
    }

    private static Span span(String tag) {
        return spans.stream().filter(s -> s.tag().equals(tag)).findFirst().orElseThrow();
    }

    private static void assertCorrupt(byte[] damaged, String mentions) {
        assertThatThrownBy(() -> SnapshotFiles.read(damaged)).isInstanceOfSatisfying(SnapshotException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.CORRUPT);
            assertThat(e.getMessage()).contains(mentions);
        });
    }
}

package org.tscvm.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Runs a front end in this JVM and keeps what it printed. */
record CliRun(int status, String out, String err) {
    interface Entry {
        int execute(String[] args, PrintStream out, PrintStream err);
    }

    static CliRun of(Entry entry, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = entry.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CliRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static CliRun tscvm(String... args) {
        return of(Main::execute, args);
    }

    static CliRun qemu(String... args) {
        return of(QemuMain::execute, args);
    }

    /** A multiboot ELF32 whose one PT_LOAD at {@code paddr} holds {@code code}, entered at its start. */
    static byte[] multibootElf32(int paddr, byte[] code) {
        int codeOff = 0x60;
        ByteBuffer b = ByteBuffer.allocate(codeOff + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) 3).putInt(1).putInt(paddr).putInt(52).putInt(0).putInt(0);
        b.putShort((short) 52).putShort((short) 32).putShort((short) 1);
        b.position(52);
        b.putInt(1).putInt(codeOff).putInt(paddr).putInt(paddr).putInt(code.length).putInt(code.length)
                .putInt(5).putInt(16);
        b.position(0x54);
        b.putInt(0x1BADB002).putInt(0).putInt(-0x1BADB002);
        b.position(codeOff);
        b.put(code);
        return b.array();
    }

    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }
}

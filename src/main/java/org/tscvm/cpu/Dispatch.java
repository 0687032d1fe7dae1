package org.tscvm.cpu;

import static org.objectweb.asm.Opcodes.*;

import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;

/**
 * The interpreter's one dispatch point, generated from the {@link Op} table: a
 * {@code tableswitch} over the form's ordinal whose every case is an {@code INVOKESTATIC} of the
 * row's handler ({@link Op#handlerName}). One generated class and one instance ({@link #INTERPRETER}), so the
 * call site is monomorphic and C2 inlines the switch and the hot handlers into the run loop.
 */
abstract class Dispatch {
    /** The dispatch for every row of the table. */
    static final Dispatch INTERPRETER = generate();

    /** Runs {@code d} (RIP already past it) through its form's handler. */
    abstract void execute(CpuExec c, Insn d);

    private static Dispatch generate() {
        String name = "org/tscvm/cpu/GeneratedDispatch";
        String base = "org/tscvm/cpu/Dispatch";
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_FRAMES);
        cw.visit(V17, ACC_FINAL | ACC_SUPER | ACC_SYNTHETIC, name, null, base, null);
        MethodVisitor init = cw.visitMethod(0, "<init>", "()V", null, null);
        init.visitCode();
        init.visitVarInsn(ALOAD, 0);
        init.visitMethodInsn(INVOKESPECIAL, base, "<init>", "()V", false);
        init.visitInsn(RETURN);
        init.visitMaxs(0, 0);
        init.visitEnd();

        MethodVisitor mv = cw.visitMethod(0, "execute", Op.HANDLER_DESCRIPTOR, null, null);
        mv.visitCode();
        mv.visitVarInsn(ALOAD, 2);
        mv.visitFieldInsn(GETFIELD, "org/tscvm/cpu/Insn", "op", "Lorg/tscvm/cpu/Op;");
        mv.visitMethodInsn(INVOKEVIRTUAL, "org/tscvm/cpu/Op", "ordinal", "()I", false);
        // Rows that share a handler (every SSE form's is Sse.execute) share a case, which keeps
        // the method well under HugeMethodLimit (8000 bytes of bytecode; C2 compiles no bigger one).
        Op[] ops = Op.VALUES;
        Map<String, Label> caseOf = new HashMap<>();
        List<Op> firsts = new ArrayList<>();
        Label[] cases = new Label[ops.length];
        for (int i = 0; i < ops.length; i++) {
            Op op = ops[i];
            String key = op.handlerOwner + "." + op.handlerName;
            Label l = caseOf.get(key);
            if (l == null) {
                l = new Label();
                caseOf.put(key, l);
                firsts.add(op);
            }
            cases[i] = l;
        }
        mv.visitTableSwitchInsn(0, ops.length - 1, cases[0], cases);
        for (Op op : firsts) {
            mv.visitLabel(caseOf.get(op.handlerOwner + "." + op.handlerName));
            mv.visitVarInsn(ALOAD, 1);
            mv.visitVarInsn(ALOAD, 2);
            mv.visitMethodInsn(INVOKESTATIC, op.handlerOwner, op.handlerName, Op.HANDLER_DESCRIPTOR, false);
            mv.visitInsn(RETURN);
        }
        mv.visitMaxs(0, 0);
        mv.visitEnd();
        cw.visitEnd();
        try {
            MethodHandles.Lookup hidden = MethodHandles.lookup().defineHiddenClass(cw.toByteArray(), true);
            return (Dispatch) hidden.findConstructor(hidden.lookupClass(),
                    java.lang.invoke.MethodType.methodType(void.class)).invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}

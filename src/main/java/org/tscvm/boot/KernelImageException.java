package org.tscvm.boot;

import org.tscvm.TscvmException;

/**
 * A kernel or module image tscvm cannot load: no multiboot header, a broken ELF, a segment
 * that leaves RAM or overlaps another. The message names the file part at fault.
 */
public final class KernelImageException extends TscvmException {
    public KernelImageException(String message) {
        super(message);
    }
}

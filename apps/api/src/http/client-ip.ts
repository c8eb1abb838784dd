import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** The client address as Fastify sees it (honours the app's `trustProxy` setting), for audit entries. */
export const ClientIp = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined =>
    context.switchToHttp().getRequest<{ ip?: string }>().ip,
);

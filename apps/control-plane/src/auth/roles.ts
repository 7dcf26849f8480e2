import { SetMetadata } from '@nestjs/common';
import type { Role } from '../generated/prisma/enums.js';

export const ROLES_KEY = 'diad:roles';
export const PUBLIC_KEY = 'diad:public';

/** Who may call a route. Routes without @Roles or @Public are refused (deny by default). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const HUMANS: Role[] = ['admin', 'engineer', 'supervisor'];
export const OPERATORS: Role[] = ['admin', 'engineer'];

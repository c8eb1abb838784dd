import { notFound, requireSocietyRole, type Principal } from '@hes/auth';
import type { UserAdminRepository } from './user-admin.repository';

/**
 * The check of every route a society's admins manage people with (members, invitations): 404 for a society
 * outside the caller's tenancy (or that does not exist), 403 for a member who is not its admin.
 */
export async function requireSocietyAdmin(
  users: UserAdminRepository,
  principal: Principal,
  societyId: string,
): Promise<void> {
  requireSocietyRole(principal, societyId, ['society_admin']);
  if (!(await users.societyExists(societyId))) throw notFound('society');
}
